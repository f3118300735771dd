"""Real photos that ship inside installed packages (scikit-image, scikit-learn, matplotlib).

Shared by every stage that needs real pictures offline: the aligner's captioned corpus, FineXL's
edited-photo ground truth, the generate stage's real subjects. Labels follow the identity hierarchy
category → subclass → instance; the two motorcycle views are one instance seen twice.
"""

from __future__ import annotations

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


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    # find_spec instead of import: importing skimage or matplotlib only to find a folder costs seconds.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} (which ships the photos) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def photo_path(package: str, relative: str) -> Path:
    """The file of a packaged photo; FileNotFoundError naming the package to reinstall."""
    path = package_dir(package) / relative
    if not path.is_file():
        raise FileNotFoundError(f"packaged photo {str(path)!r} is missing: reinstall {package}")
    return path
