"""The embedded default data: real photos that ship inside scikit-image, scikit-learn and matplotlib.

Until the synthetic world lands (issue 3) these are what `persona-lens run` ingests, so a newcomer sees
every stage work offline in minutes. Labels follow the identity hierarchy category → subclass →
instance; the two motorcycle views are one instance seen twice.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

# (package, path inside it, category, subclass, instance)
PHOTOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("skimage", "data/astronaut.png", "person", "portrait", "astronaut"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "person", "portrait", "grace_hopper"),
    ("skimage", "data/camera.png", "person", "photographer", "cameraman"),
    ("skimage", "data/chelsea.png", "animal", "cat", "chelsea"),
    ("skimage", "data/horse.png", "animal", "horse", "horse_silhouette"),
    ("skimage", "data/coffee.png", "object", "cup", "coffee"),
    ("skimage", "data/rocket.jpg", "object", "vehicle", "rocket"),
    ("skimage", "data/motorcycle_left.png", "object", "vehicle", "motorcycle"),
    ("skimage", "data/motorcycle_right.png", "object", "vehicle", "motorcycle"),
    ("skimage", "data/coins.png", "object", "coins", "coins"),
    ("skimage", "data/clock_motion.png", "object", "clock", "clock"),
    ("sklearn", "datasets/images/china.jpg", "scene", "architecture", "china"),
    ("sklearn", "datasets/images/flower.jpg", "scene", "plant", "flower"),
    ("skimage", "data/hubble_deep_field.jpg", "scene", "sky", "hubble_deep_field"),
    ("skimage", "data/moon.png", "scene", "sky", "moon"),
    ("skimage", "data/brick.png", "texture", "material", "brick"),
    ("skimage", "data/grass.png", "texture", "material", "grass"),
    ("skimage", "data/gravel.png", "texture", "material", "gravel"),
    ("skimage", "data/retina.jpg", "microscopy", "medical", "retina"),
    ("skimage", "data/ihc.png", "microscopy", "medical", "ihc"),
)
LABEL_LEVELS = ["category", "subclass", "instance"]


def _package_dir(package: str) -> Path:
    # find_spec instead of import: importing skimage or matplotlib only to find a folder costs seconds.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} (which ships the default photos) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def default_photo_paths() -> list[tuple[Path, str, str, str]]:
    return [(_package_dir(pkg) / rel, cat, sub, inst) for pkg, rel, cat, sub, inst in PHOTOS]


def write_default_manifest(folder: Path) -> Path:
    """Write a CSV manifest of the default photos (absolute paths + labels) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "default_photos.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", *LABEL_LEVELS])
        for path, cat, sub, inst in default_photo_paths():
            w.writerow([str(path), cat, sub, inst])
    return manifest
