"""The dlib ResNet face descriptor (128-d) as an image encoder: an identity encoder made for faces.

Weights ship in `face-recognition-models` (the `.dat` files are located with `find_spec`, so the
package, which imports `pkg_resources`, is never imported); the network runs in `dlib-bin`.

Per image: small images (the DCGAN's 64 px faces) are upsampled bicubic so that the shorter side is
256 px, where dlib's frontal detector finds them; the largest detected face is aligned with the
5-point landmark model and described. When no face is detected the whole image is taken as the face
box; `describe` says which images that happened to (`detected`), and `encode_images` counts them in
`fallbacks`, so a caller can report it instead of trusting a descriptor of a non-face.

Distances: dlib's descriptors are compared by Euclidean distance *unnormalised*, with 0.6 as its
same-person threshold. The `ImageEncoder` contract stores L2-normalised rows, so `encode_images`
normalises, and `describe(...).raw` keeps the raw descriptors for the 0.6 test.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from persona_lens.models.base import ModelError, l2_normalize

NAME = "dlib-face-resnet"
DIM = 128
#: dlib's documented same-person threshold on the Euclidean distance of raw descriptors.
SAME_PERSON_DISTANCE = 0.6
#: Images whose shorter side is below this are upsampled to it before detection.
MIN_SIDE = 256
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"


def models_folder() -> Path:
    """The `models/` folder of the installed `face_recognition_models` package (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"encoder {NAME!r} needs the package face-recognition-models")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (RECOGNITION_FILE, LANDMARKS_FILE):
        if not (folder / name).is_file():
            raise ModelError(f"encoder {NAME!r}: {name} not found in {str(folder)!r}; reinstall the package")
    return folder


@dataclass(frozen=True)
class FaceDescriptors:
    """Raw dlib descriptors (n, 128) float32 and whether a face was detected in each image."""

    raw: np.ndarray
    detected: np.ndarray

    @property
    def fallbacks(self) -> int:
        return int((~self.detected).sum())


def prepare(image: Image.Image) -> np.ndarray:
    """RGB uint8 array, upsampled bicubic so that the shorter side is at least MIN_SIDE."""
    image = image.convert("RGB")
    w, h = image.size
    if min(w, h) < MIN_SIDE:
        scale = MIN_SIDE / min(w, h)
        image = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


class DlibFaceEncoder:
    """`ImageEncoder` over dlib's face descriptor: frontal detector → 5 landmarks → ResNet → 128-d."""

    name = NAME
    dim = DIM
    runtime = "dlib"

    def __init__(self, num_jitters: int = 0) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise ModelError(f"encoder {NAME!r} needs the package dlib-bin") from exc
        if not isinstance(num_jitters, int) or num_jitters < 0:
            raise ModelError(f"num_jitters must be a non-negative integer, got {num_jitters!r}")
        folder = models_folder()
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self.net = dlib.face_recognition_model_v1(str(folder / RECOGNITION_FILE))
        self.num_jitters = num_jitters
        self.fallbacks = 0  # images described without a detected face, since construction
        self._lock = threading.Lock()  # dlib's objects are not documented as thread-safe

    def face_box(self, pixels: np.ndarray):
        """The largest detected face, else None."""
        found = self.detector(pixels, 0)
        if not len(found):
            return None
        return max(found, key=lambda r: r.width() * r.height())

    def describe(self, images: list[Image.Image]) -> FaceDescriptors:
        """Raw (unnormalised) descriptors, for dlib's Euclidean 0.6 same-person test."""
        raw = np.zeros((len(images), DIM), np.float32)
        detected = np.zeros(len(images), bool)
        with self._lock:
            for i, image in enumerate(images):
                pixels = prepare(image)
                box = self.face_box(pixels)
                detected[i] = box is not None
                if box is None:
                    h, w = pixels.shape[:2]
                    box = self._dlib.rectangle(0, 0, w - 1, h - 1)
                shape = self.landmarks(pixels, box)
                raw[i] = np.asarray(self.net.compute_face_descriptor(pixels, shape, self.num_jitters))
            self.fallbacks += int((~detected).sum())
        return FaceDescriptors(raw, detected)

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, 128) float32, rows L2-normalised (the ImageEncoder contract)."""
        if not images:
            return np.zeros((0, DIM), np.float32)
        return l2_normalize(self.describe(images).raw)


def face_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between raw descriptors: (n,128) vs (n,128) row-wise, or vs one (128,)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.linalg.norm(a - b, axis=-1)


_ENCODERS: dict[int, DlibFaceEncoder] = {}


def load_face_encoder(num_jitters: int = 0) -> DlibFaceEncoder:
    """The dlib face encoder, loaded once per process (for the registry's `dlib-face-resnet`)."""
    if num_jitters not in _ENCODERS:
        _ENCODERS[num_jitters] = DlibFaceEncoder(num_jitters)
    return _ENCODERS[num_jitters]
