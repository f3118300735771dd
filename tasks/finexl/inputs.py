"""Pairs from two image folders, matched by file name: the input for models outside `generations`.

Bad input never becomes a silent number: folders that are missing, empty on one side, or share no
file name raise `PairingError`; a file present on one side only, or one that fails to decode, becomes
a quarantine row (source, reason) and its pair is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
STAGE = "explain"


class PairingError(ValueError):
    """Two folders cannot be paired at all; the message names the folder and what is wrong."""


@dataclass
class FolderPairs:
    names: list[str] = field(default_factory=list)
    base: list[Image.Image] = field(default_factory=list)
    personalized: list[Image.Image] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)     # rows of the `quarantine` table


def _images(folder: Path, side: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise PairingError(f"{side} folder {str(folder)!r} does not exist or is not a folder")
    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    if not files:
        raise PairingError(f"{side} folder {str(folder)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _decode(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        return img.convert("RGB")


def pair_folders(base_folder: str | Path, personalized_folder: str | Path, min_pairs: int = 2) -> FolderPairs:
    """Decode the pictures of both folders that share a file name, in name order."""
    base = _images(Path(base_folder), "base")
    pers = _images(Path(personalized_folder), "personalized")
    shared = sorted(set(base) & set(pers))
    if not shared:
        raise PairingError(f"folders {str(base_folder)!r} and {str(personalized_folder)!r} share no file name: "
                           f"e.g. {sorted(base)[:3]} vs {sorted(pers)[:3]}")
    out = FolderPairs()
    for name in sorted(set(base) ^ set(pers)):
        side, path = ("base", base[name]) if name in base else ("personalized", pers[name])
        out.quarantine.append({"stage": STAGE, "source": str(path), "reason": "unpaired_image",
                               "detail": f"no file {name!r} on the other side (only in the {side} folder)"})
    for name in shared:
        try:
            b, p = _decode(base[name]), _decode(pers[name])
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            out.quarantine.append({"stage": STAGE, "source": f"{base[name]} | {pers[name]}",
                                   "reason": "undecodable_image", "detail": f"{type(exc).__name__}: {exc}"})
            continue
        out.names.append(name)
        out.base.append(b)
        out.personalized.append(p)
    if len(out.names) < min_pairs:
        raise PairingError(f"only {len(out.names)} decodable pair(s) in {str(base_folder)!r} and "
                           f"{str(personalized_folder)!r}; at least {min_pairs} needed "
                           f"({len(out.quarantine)} quarantined)")
    return out
