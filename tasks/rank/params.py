"""The rank stage's parameters: the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from persona_lens.tasks.params import StageParams, image_encoder_name


class RankParams(StageParams):
    """Finer-Personalization Rank: which features the identity ranker is fitted on, and the semantic
    scores (CLIP-I, DINO-style) reported beside it."""

    encoder: str = Field("efficientnet-lite0-multilevel",
                         description="Image features the identity ranker is fitted on (embed them first).")
    ranker: Literal["lda", "raw"] = Field(
        "lda", description="lda (fitted on the gallery's identities) or raw (the encoder's cosine).")
    shrinkage: float = Field(0.3, gt=0, le=1, description="LDA covariance shrinkage in (0, 1].")
    ks: tuple[int, ...] = Field((1, 5, 10), min_length=1, description="Cut-offs of recall@k and cmc@k.")
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
