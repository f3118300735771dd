"""ExplainParams: every default and check of the explain stage (FineXL), run before any data is read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from persona_lens.tasks.params import StageParams

#: Probe prompts of the concept directions f(C) = mean_t enc("t, C") - enc(t). Deliberately unlike the
#: prompts the world's profiles are rendered with (world/profiles.py TEMPLATES: "a photo of sks ..."),
#: so that no direction is fitted to the generator's own wording (a leakage check of the issue).
DEFAULT_PROBES = (
    "an image of an animal",
    "a creature standing outdoors",
    "a snapshot taken by someone",
    "an illustration of a small beast",
)
#: Aspects that the language side reads badly, complemented by measured image statistics. Identity has
#: no phrase the aligner was trained on (its concepts are render-only); lighting, style and composition
#: are the aligner's weakest aspects on held-out photos (zero-shot 0.71, 0.86, 0.88 in
#: docs/models/aligner.md; colour and texture read 1.00).
DEFAULT_COMPLEMENTED = ("identity", "lighting", "style", "composition")
#: Level edges on an intensity in [0, 1]: none < 0.1 <= slight < 0.45 <= moderate < 0.75 <= strong.
DEFAULT_LEVEL_EDGES = (0.1, 0.45, 0.75)


class ExplainParams(StageParams):
    """Parameters of the explain stage.

    - `encoder`: the `VisionLanguageEncoder` (registry name, aligner file or CLIP/SigLIP folder).
    - `form`: how the divergence is decomposed into concepts: `whitened` (PCA-truncated whitened
      subspace + non-negative least squares), `core` (the published greedy orthogonal least squares)
      or `learned` (NNLS on a concept dictionary learnt from training profiles, dictionary.py).
      The default is the form that scored higher on the *training* seeds (docs/explain.md).
    - `vocabulary`: a YAML file of concept phrases per aspect (None: the taxonomy's own phrases).
    - `probe_prompts`: the prompts t of the concept directions.
    - `ortho_threshold`, `residual_threshold`: the published core's orthogonality threshold (0.03 in
      the paper) and its stopping relative residual (0.2 in the authors' code).
    - `whiten_components`: K of the whitened subspace (18 in the authors' best variant).
    - `bootstrap`: resamples of the probe pairs behind each confidence; `seed` seeds them.
    - `complemented_aspects`: aspects whose evidence adds measured image statistics.
    - `level_edges`: intensity edges of the levels none / slight / moderate / strong.
    - `min_pairs`: fewest usable pairs a model needs to be explained (fewer: a quarantine row).
    - `explainer`: the fitted explainer file the stage explains with (`persona-lens-finexl`: the
      packaged one, fitted by `persona-lens train-explainer` on world training seeds). Its form,
      vocabulary, probes, K and complemented aspects are the ones it was fitted with; setting one of
      those to something else here is an error (re-fit instead), never silently ignored.
    - `models`: explain only these model ids of the root (None: every personalized model).
    """

    encoder: str = "persona-lens-lit"
    explainer: str = "persona-lens-finexl"
    models: tuple[str, ...] | None = None
    form: Literal["whitened", "core", "learned"] = "learned"
    vocabulary: str | None = None
    probe_prompts: tuple[str, ...] = DEFAULT_PROBES
    ortho_threshold: float = 0.03
    residual_threshold: float = 0.2
    whiten_components: int = 18
    bootstrap: int = 200
    seed: int = 0
    complemented_aspects: tuple[str, ...] = DEFAULT_COMPLEMENTED
    level_edges: tuple[float, float, float] = DEFAULT_LEVEL_EDGES
    min_pairs: int = 2

    @field_validator("encoder")
    @classmethod
    def _encoder(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name an encoder")
        return v

    @field_validator("probe_prompts")
    @classmethod
    def _probes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or any(not isinstance(p, str) or not p.strip() for p in v):
            raise ValueError("needs at least one non-empty probe prompt")
        if len(set(v)) != len(v):
            raise ValueError("probe prompts must be distinct")
        return v

    @field_validator("ortho_threshold", "residual_threshold")
    @classmethod
    def _unit(cls, v: float) -> float:
        if not 0.0 < v < 1.0:
            raise ValueError("must be in (0, 1)")
        return v

    @field_validator("whiten_components")
    @classmethod
    def _k(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap(cls, v: int) -> int:
        if not 10 <= v <= 100_000:
            raise ValueError("must be in [10, 100000]")
        return v

    @field_validator("min_pairs")
    @classmethod
    def _min_pairs(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("complemented_aspects")
    @classmethod
    def _aspects(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from persona_lens.world.taxonomy import load_taxonomy

        known = load_taxonomy().names
        unknown = [a for a in v if a not in known]
        if unknown:
            raise ValueError(f"unknown aspect(s) {unknown}; the taxonomy has {known}")
        return v

    @model_validator(mode="after")
    def _edges(self) -> ExplainParams:
        a, b, c = self.level_edges
        if not 0.0 < a < b < c < 1.0:
            raise ValueError(f"level_edges must be increasing in (0, 1), got {self.level_edges}")
        return self


#: Fields an explainer file fixes when it is fitted (explain reads them from the file).
FITTED_FIELDS = ("form", "vocabulary", "probe_prompts", "whiten_components", "complemented_aspects",
                 "ortho_threshold", "residual_threshold")


class TrainExplainerParams(ExplainParams):
    """Fit an explainer on the synthetic world's profiles (known truth) and save it.

    - `size`, `train_seeds`: the world preset and the seeds whose profiles train it (never the
      seeds evaluation reports on: eval-explain refuses overlapping seeds).
    - `out`: the file written (None: `<root>/explainers/finexl-<encoder>.safetensors`).
    - `cache`: where rendered and encoded worlds are kept between runs (None: the cache folder).
    - `workers`: rendering processes.
    """

    size: Literal["small", "medium", "large"] = "medium"
    train_seeds: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    out: str | None = None
    cache: str | None = None
    workers: int = Field(1, ge=1)

    @field_validator("train_seeds")
    @classmethod
    def _seeds(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or len(set(v)) != len(v) or min(v) < 0:
            raise ValueError("needs distinct non-negative seeds")
        return v


class EvalExplainParams(TrainExplainerParams):
    """Score the explainer's method against known truth on held-out worlds (and real photos):
    every form and baseline fitted on `train_seeds`, reported on `test_seeds` (`eval_explain`).

    - `test_seeds`: held-out world seeds (disjoint from `train_seeds`).
    - `photos`: photo models per pool for the real-photo split (0: none).
    - `paraphrased`: also run the whole world evaluation with the paraphrased vocabulary.
    - `resamples`: bootstrap resamples of the models behind every interval.
    """

    test_seeds: tuple[int, ...] = (13, 14, 15)
    photos: int = Field(40, ge=0)
    paraphrased: bool = True
    resamples: int = Field(200, ge=0)

    _test_seeds = field_validator("test_seeds")(TrainExplainerParams._seeds.__func__)

    @model_validator(mode="after")
    def _disjoint(self) -> EvalExplainParams:
        shared = sorted(set(self.train_seeds) & set(self.test_seeds))
        if shared:
            raise ValueError(f"train_seeds and test_seeds overlap: {shared}")
        return self
