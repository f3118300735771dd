"""Did personalization work? Identity gain by the dlib face descriptor, personalized vs base twins.

For each personalized model, the same subject latents are drawn by the base and by the tuned
generator. Distance = Euclidean distance of raw dlib descriptors to the subject's centre (the mean
descriptor of its references). Reported per model:
- `identity_gain`: mean(base distance − personalized distance) over twins, with a seeded bootstrap
  95 % CI over twins (> 0: the personalized faces are closer to the subject);
- `share_same_person`: share of personalized faces under dlib's 0.6 same-person distance, beside
  the base twins' share (`method=base`);
- `locality_same_person`: on random (non-subject) codes, the share of personalized faces still
  within 0.6 of their base twin — what the locality regulariser is meant to keep;
- `detected`: share of generated faces dlib's detector found (the others were described whole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from persona_lens.models.face import SAME_PERSON_DISTANCE, face_distance

STAGE = "generate"


@dataclass(frozen=True)
class IdentityGain:
    base_distance: np.ndarray          # (n,) base twin → subject centre
    personalized_distance: np.ndarray  # (n,)
    detected: float

    @property
    def gain(self) -> np.ndarray:
        return self.base_distance - self.personalized_distance


def bootstrap_ci(values: np.ndarray, seed: int = 0, n_boot: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n_boot, len(values)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def identity_gain(encoder, references: list[Image.Image], base_images: list[Image.Image],
                  personalized_images: list[Image.Image]) -> IdentityGain:
    """Distances of base and personalized twins (same latents, same order) to the subject."""
    if len(base_images) != len(personalized_images) or not base_images:
        raise ValueError(f"need the same non-zero number of base and personalized twins, got "
                         f"{len(base_images)} and {len(personalized_images)}")
    centre = encoder.describe(references).raw.mean(0)
    b, p = encoder.describe(base_images), encoder.describe(personalized_images)
    detected = float(np.concatenate([b.detected, p.detected]).mean())
    return IdentityGain(face_distance(b.raw, centre), face_distance(p.raw, centre), detected)


def locality(encoder, base_images: list[Image.Image], personalized_images: list[Image.Image]) -> np.ndarray:
    """Distance of each personalized face to its base twin, on codes away from the subject."""
    return face_distance(encoder.describe(base_images).raw, encoder.describe(personalized_images).raw)


def _row(method: str, metric: str, value: float, split: str, detail: str | None) -> dict:
    return {"stage": STAGE, "method": method, "metric": metric, "value": float(value), "split": split,
            "detail": detail}


def eval_rows(model_id: str, method: str, result: IdentityGain, locality_distance: np.ndarray | None = None,
              seed: int = 0) -> list[dict]:
    """`eval_generate` rows of one personalized model (split = the model id)."""
    gain = result.gain
    lo, hi = bootstrap_ci(gain, seed)
    n = len(gain)
    rows = [
        _row(method, "identity_gain", gain.mean(), model_id, f"n={n}, ci95=[{lo:.3f}, {hi:.3f}]"),
        _row(method, "distance_to_subject", result.personalized_distance.mean(), model_id, f"n={n}"),
        _row("base", "distance_to_subject", result.base_distance.mean(), model_id, f"n={n}"),
        _row(method, "share_same_person", (result.personalized_distance < SAME_PERSON_DISTANCE).mean(), model_id,
             f"n={n}, threshold={SAME_PERSON_DISTANCE}"),
        _row("base", "share_same_person", (result.base_distance < SAME_PERSON_DISTANCE).mean(), model_id,
             f"n={n}, threshold={SAME_PERSON_DISTANCE}"),
        _row(method, "detected", result.detected, model_id, f"n={2 * n}"),
    ]
    if locality_distance is not None and len(locality_distance):
        rows.append(_row(method, "locality_same_person", (locality_distance < SAME_PERSON_DISTANCE).mean(),
                         model_id, f"n={len(locality_distance)}, random codes"))
    return rows
