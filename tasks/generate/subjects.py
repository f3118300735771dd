"""A subject's reference faces: photos → face crops framed like the DCGAN's faces → 64x64 references.

Sources: a real photo shipped in a package (`astronaut`: scikit-image's Eileen Collins portrait,
`grace_hopper`: matplotlib's), a folder of images, or a manifest (CSV with a `path` column, paths
relative to the manifest). The face is found with dlib's frontal detector and cropped with the
framing of the generator's own faces (measured on its outputs: dlib's box spans 70 % of the frame
width, its centre sits at 64 % of the height), so a reference and a generated face line up.

When a source gives fewer usable photos than `num_references`, light augmentations fill the set:
mirror, ±6° rotation, ±5 % shift, ±10 % brightness — the kinds of change a face keeps its identity
under. A source with no usable image raises SubjectError naming the source and each refusal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps, UnidentifiedImageError

from persona_lens.models.gan import IMAGE_SIZE

BOX_WIDTH_FRACTION = 0.70   # dlib box width / frame width on the DCGAN's faces
BOX_CENTRE_Y = 0.64         # dlib box centre height / frame height on the DCGAN's faces
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class SubjectError(ValueError):
    """A subject's references cannot be built (no usable image, unknown packaged photo, bad manifest)."""


@dataclass(frozen=True)
class Subject:
    name: str
    references: list[Image.Image]          # 64x64 RGB
    source: str
    skipped: dict[str, str] = field(default_factory=dict)   # source item → why it was not used


def packaged_photos() -> dict[str, Path]:
    """Real face photos that ship inside installed packages (tasks/photos.py)."""
    from persona_lens.tasks.photos import PHOTOS, photo_path

    return {instance: photo_path(package, rel) for package, rel, _, _, instance in PHOTOS
            if instance in ("astronaut", "grace_hopper")}


def _detector():
    from persona_lens.models.face import load_face_encoder

    return load_face_encoder()


def crop_face(photo: Image.Image) -> Image.Image | None:
    """The largest face of `photo` framed like the generator's faces (square, not yet resized); None if
    dlib finds no face. A photo that is already 64x64 is taken as a crop as it is."""
    photo = photo.convert("RGB")
    if photo.size == (IMAGE_SIZE, IMAGE_SIZE):
        return photo
    from persona_lens.models.face import prepare

    pixels = prepare(photo)
    scale = photo.width / pixels.shape[1]   # prepare may have upsampled
    box = _detector().face_box(pixels)
    if box is None:
        return None
    side = box.width() * scale / BOX_WIDTH_FRACTION
    cx = (box.left() + box.right()) / 2 * scale
    cy = (box.top() + box.bottom()) / 2 * scale
    top = cy - BOX_CENTRE_Y * side
    return photo.crop((round(cx - side / 2), round(top), round(cx + side / 2), round(top + side)))


def augment(crops: list[Image.Image], n: int, seed: int) -> list[Image.Image]:
    """`n` 64x64 references: the crops themselves first, then seeded light augmentations of them."""
    rng = np.random.default_rng(seed)
    out = [c.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC) for c in crops[:n]]
    i = 0
    while len(out) < n:
        im = crops[i % len(crops)]
        if i % 2 == 0:
            im = ImageOps.mirror(im)
        shift = tuple(float(v) for v in rng.uniform(-0.05, 0.05, 2) * im.width)
        im = im.rotate(float(rng.uniform(-6, 6)), resample=Image.Resampling.BICUBIC, translate=shift)
        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        out.append(ImageEnhance.Brightness(im).enhance(float(rng.uniform(0.9, 1.1))))
        i += 1
    return out


def from_photos(name: str, photos: list[tuple[str, Image.Image | None]], source: str, n: int,
                seed: int) -> Subject:
    """References from (item, decoded photo or None) pairs; items without a face are skipped."""
    crops, skipped = [], {}
    for item, photo in photos:
        if photo is None:
            skipped[item] = "not a readable image"
            continue
        crop = crop_face(photo)
        if crop is None:
            skipped[item] = "no face found"
        else:
            crops.append(crop)
    if not crops:
        why = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:5]) or "it holds no image files"
        raise SubjectError(f"subject {name!r}: no usable reference image in {source!r} ({why})")
    return Subject(name, augment(crops, n, seed), source, skipped)


def open_rgb(path: Path) -> Image.Image | None:
    """The file as an RGB image, or None when it is not a readable image (the caller says why it skipped it)."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None


def packaged_subject(name: str, n: int = 6, seed: int = 0) -> Subject:
    photos = packaged_photos()
    if name not in photos:
        raise SubjectError(f"unknown packaged photo {name!r}; known: {sorted(photos)}")
    return from_photos(name, [(str(photos[name]), open_rgb(photos[name]))], f"packaged:{name}", n, seed)


def folder_subject(name: str, folder: str | Path, n: int = 6, seed: int = 0) -> Subject:
    folder = Path(folder)
    if not folder.is_dir():
        raise SubjectError(f"subject {name!r}: reference folder {str(folder)!r} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return from_photos(name, [(str(p), open_rgb(p)) for p in files], str(folder), n, seed)


def manifest_subject(name: str, manifest: str | Path, n: int = 6, seed: int = 0) -> Subject:
    manifest = Path(manifest)
    if not manifest.is_file():
        raise SubjectError(f"subject {name!r}: manifest {str(manifest)!r} does not exist")
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise SubjectError(f"subject {name!r}: manifest {str(manifest)!r} needs a 'path' column, "
                               f"has {reader.fieldnames}")
        paths = [manifest.parent / row["path"] for row in reader if row.get("path")]
    return from_photos(name, [(str(p), open_rgb(p) if p.is_file() else None) for p in paths], str(manifest), n, seed)


def images_subject(name: str, images: list[Image.Image], source: str, n: int = 6, seed: int = 0) -> Subject:
    """References from already-decoded images (e.g. an ingested subject's rows of `images`)."""
    return from_photos(name, [(f"{source}#{i}", im) for i, im in enumerate(images)], source, n, seed)
