"""The rank stage's parameters: the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from persona_lens.tasks.params import StageParams, image_encoder_name, world_size


class RankParams(StageParams):
    """Finer-Personalization Rank: which features the identity ranker is fitted on, and the semantic
    scores (CLIP-I, DINO-style) reported beside it."""

    encoder: str = Field("efficientnet-lite0-multilevel",
                         description="Image features the identity ranker is fitted on (embed them first).")
    ranker: Literal["lda", "raw"] = Field(
        "lda", description="lda (fitted on the gallery's identities) or raw (the encoder's cosine).")
    shrinkage: float = Field(0.3, gt=0, le=1, description="LDA covariance shrinkage in (0, 1].")
    augment: int = Field(0, ge=0, le=8, description="Image-operation copies of each gallery picture added to the "
                                                    "LDA fit, encoded with `encoder` (0: the gallery alone).")
    ks: tuple[int, ...] = Field((1, 5, 10), min_length=1, description="Cut-offs of recall@k and cmc@k.")
    ablation: tuple[tuple[int, int | None], ...] = Field(
        (), description="Gallery ablation settings [identities, pictures per identity or null for all] "
                        "(JSON, e.g. [[10, 5], [40, null]]): random galleries of that make-up, rows in eval_rank "
                        "(split gallery_ablation); empty: none.")
    ablation_repeats: int = Field(5, ge=1, description="Random galleries drawn per ablation setting.")
    clip_encoder: str | None = Field("persona-lens-lit", description="Encoder of the CLIP-I score (None: skip).")
    dino_encoder: str | None = Field("efficientnet-lite0", description="Encoder of the DINO-style score (None: skip).")

    # The same canonical names embed stores (`./clip` → its absolute path), so rank finds the vectors.
    _canonical = field_validator("encoder", "clip_encoder", "dino_encoder")(image_encoder_name)

    @field_validator("ks")
    @classmethod
    def _positive_ks(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        if min(ks) < 1:
            raise ValueError("every k must be a positive integer")
        return tuple(sorted(set(ks)))

    @field_validator("ablation")
    @classmethod
    def _ablation(cls, settings: tuple[tuple[int, int | None], ...]) -> tuple[tuple[int, int | None], ...]:
        if any(n < 1 or (m is not None and m < 1) for n, m in settings):
            raise ValueError("every ablation setting needs identities >= 1 and pictures per identity >= 1 (or null)")
        return settings

    @property
    def semantic(self) -> dict[str, str]:
        """Score name → encoder of the semantic scores that are switched on."""
        return {name: enc for name, enc in (("clip_i", self.clip_encoder), ("dino", self.dino_encoder)) if enc}

    @property
    def ranked_encoder(self) -> str:
        """What `rankings.encoder` records: the features and the ranker fitted on them."""
        return f"{self.encoder}+{self.ranker}"


class EvalRankParams(StageParams):
    """Scoring a rank run against the world's known identity drift."""

    rank_run: str | None = Field(None, description="run_id of the rank run to score (None: the latest).")


class DriftSweepParams(StageParams):
    """The drift sweep (tasks/rank/sweep.py): graded identity drift per subject, scored by FPR and the
    semantic scores; rows of split `drift_sweep` in `eval_rank`."""

    size: str = Field("small", description="World preset the sweep's subjects and gallery come from.")
    seed: int = Field(2, ge=0, description="World seed (2: reported; 1 was used to choose the ranker's augmentation).")
    subjects: int = Field(4, ge=2, description="Subjects swept (each of another breed).")
    levels: tuple[float, ...] = Field((0.0, 0.25, 0.5, 0.75, 1.0), min_length=3,
                                      description="Identity-drift levels of each subject's models.")
    prompts: int = Field(4, ge=1, description="Pictures per model.")
    augment: int = Field(2, ge=0, le=8, description="Image-operation copies of each gallery picture in the ranker's fit.")
    shrinkage: float = Field(0.3, gt=0, le=1, description="LDA covariance shrinkage in (0, 1].")
    vl_encoder: str = Field("persona-lens-lit", description="Vision-language encoder: CLIP-I, and its image tower's "
                                                            "features for the ranker.")
    image_encoder: str = Field("efficientnet-lite0", description="Encoder of the DINO-style score.")
    resamples: int = Field(1000, ge=10, description="Bootstrap resamples of the subjects.")
    workers: int = Field(1, ge=1, description="Render processes (the pictures do not depend on it).")

    _canonical = field_validator("vl_encoder", "image_encoder")(image_encoder_name)
    _size = field_validator("size")(world_size)

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= t <= 1.0 for t in levels) or len(set(levels)) != len(levels) or 0.0 not in levels:
            raise ValueError("levels must be distinct values in [0, 1], 0 among them (the faithful model)")
        return tuple(sorted(levels))
