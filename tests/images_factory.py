"""Real and broken image files for tests, made on the fly (seeded, tiny)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_bytes(seed: int, size: tuple[int, int] = (64, 48), fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A small noisy picture, different for every seed."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = photo_bytes(99, size=(128, 128))
    return data[: len(data) // 2]


def exif_rotated_jpeg(size: tuple[int, int] = (80, 40)) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90° clockwise' (orientation 6)."""
    img = Image.fromarray(np.full((size[1], size[0], 3), 120, np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def sixteen_bit_png() -> bytes:
    img = Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 10)  # mode I;16
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def bomb_png() -> bytes:
    """A small file that claims 8000×8000 pixels (64 M > the 50 M limit)."""
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")
    return buf.getvalue()


def sliver_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 900)).save(buf, format="PNG")
    return buf.getvalue()
