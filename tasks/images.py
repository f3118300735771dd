"""Decoding and checking one image's bytes: the one place that says what a valid image is.

Ingest uses it to admit files; every later stage uses `decode_rgb` to read them back the same way.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest file accepted, in bytes.
MAX_BYTES = 64 << 20
#: Decompression-bomb guard, checked from the header before any pixel is decoded.
MAX_PIXELS = 50_000_000
MAX_SIDE = 16_384
MIN_SIDE = 8
MAX_ASPECT = 40.0
#: Modes with a faithful RGB conversion. 16-bit and float modes ("I;16", "I", "F") are refused: PIL's
#: conversion clips them to 8 bits, which silently destroys the picture.
SUPPORTED_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"})
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "MPO"})
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "TIFF": "tif"}


class BadImage(ValueError):
    """The bytes are not an acceptable image; `reason` is a stable code for the quarantine table."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class CheckedImage:
    image_id: str
    format: str
    ext: str
    width: int
    height: int
    num_bytes: int


def image_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _open(data: bytes) -> Image.Image:
    if not data:
        raise BadImage("empty_file", "the file has zero bytes")
    if len(data) > MAX_BYTES:
        raise BadImage("file_too_large", f"{len(data)} bytes > limit {MAX_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise BadImage("not_an_image", "no image format recognises these bytes") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage("too_many_pixels", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage("unreadable_header", str(exc)) from exc
    if img.format not in SUPPORTED_FORMATS:
        raise BadImage("unsupported_format", f"format {img.format} is not one of {sorted(SUPPORTED_FORMATS)}")
    w, h = img.size
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        raise BadImage("too_many_pixels", f"{w}x{h} exceeds {MAX_SIDE} px a side or {MAX_PIXELS} pixels")
    if min(w, h) < MIN_SIDE or max(w, h) / max(min(w, h), 1) > MAX_ASPECT:
        raise BadImage("absurd_dimensions", f"{w}x{h} (min side {MIN_SIDE}, max aspect {MAX_ASPECT:g})")
    if img.mode not in SUPPORTED_MODES:
        raise BadImage("unsupported_mode", f"mode {img.mode} has no faithful RGB conversion")
    return img


def decode_rgb(data: bytes) -> Image.Image:
    """Fully decode `data`, apply the EXIF orientation and return an RGB image.

    Transparent pixels are composited on white (a plain RGB conversion would expose whatever colour
    hides under alpha=0, often black). Raises BadImage with a reason code for anything unacceptable.
    """
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[Image.Image, str]:
    img = _open(data)
    fmt = img.format
    try:
        img.load()  # full decode: truncated or corrupt data fails here, not later in a model
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage("truncated_or_corrupt", str(exc)) from exc
    if img.mode in {"RGBA", "LA", "La", "RGBa", "PA"} or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    return (img if img.mode == "RGB" else img.convert("RGB")), fmt


def check_image(data: bytes) -> tuple[CheckedImage, Image.Image]:
    """Validate and decode `data`; return its facts (id = sha256 of the bytes) and the RGB image."""
    img, fmt = _decode(data)
    return CheckedImage(image_id_of(data), fmt, EXTENSIONS[fmt], img.width, img.height, len(data)), img
