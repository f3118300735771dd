"""Typed configuration of the main job (`persona-lens run --config FILE`, YAML or JSON).

Each section *is* its stage's parameters model (tasks/<stage>/params.py), plus the few switches that
only the pipeline has (whether to run a stage, whether to score it), so a setting is declared once.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, field_validator

from persona_lens.models.registry import VL_ENCODERS
from persona_lens.tasks.deper.params import DescribeParams, EvalDescribeParams
from persona_lens.tasks.embed import EmbedParams
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.generate import GenerateParams
from persona_lens.tasks.ingest import IngestParams
from persona_lens.tasks.params import ConfigError, StageParams
from persona_lens.tasks.rank import RankParams
from persona_lens.tasks.world import WorldMakeParams

__all__ = ["ConfigError", "DescribeConfig", "EmbedConfig", "ExplainConfig", "GenerateConfig", "PipelineConfig", "RankConfig", "load_config", "parse_config"]


class EmbedConfig(EmbedParams):
    vl_encoder: str | None = Field("persona-lens-lit", description=(
        "Vision-language encoder whose image and text vectors share one space (the LiT aligner, an aligner "
        "file, or a CLIP/SigLIP folder); None skips it."))
    evaluate_vl: bool = Field(True, description="Score the vision-language encoder on held-out data (eval_aligner).")

    @field_validator("vl_encoder")
    @classmethod
    def _vl(cls, name: str | None) -> str | None:
        if name is None or name.lower() in VL_ENCODERS:
            return name.lower() if name else None
        path = Path(name).expanduser()
        if not path.exists():
            raise ValueError(f"not one of {list(VL_ENCODERS)} and not an existing file or folder")
        return str(path.resolve())

    def stage_params(self, encoder: str | None = None, text_encoder: str | None = "") -> EmbedParams:
        """This section as the embed stage's parameters, optionally for another encoder pair."""
        fields = {k: v for k, v in self.model_dump().items() if k in EmbedParams.model_fields}
        if encoder is not None:
            fields["encoder"] = encoder
        if text_encoder != "":
            fields["text_encoder"] = text_encoder
        return EmbedParams.parse(fields, prefix="embed")


class RankConfig(RankParams):
    enabled: bool = Field(True, description="Run Finer-Personalization Rank when there are generated images with a subject.")
    evaluate: bool = Field(True, description="Score it against the world's known identity drift (eval_rank).")
    drift_sweep: bool = Field(True, description="With evaluate: also run the drift sweep (DriftSweepParams defaults, "
                                                "~1.5 min): does FPR follow graded identity drift?")

    def stage_params(self, embed: EmbedConfig) -> RankParams:
        """The rank stage's parameters; the semantic scores follow the embed section unless set here."""
        fields = {k: v for k, v in self.model_dump().items() if k in RankParams.model_fields}
        if "clip_encoder" not in self.model_fields_set:
            fields["clip_encoder"] = embed.vl_encoder
        if "dino_encoder" not in self.model_fields_set:
            fields["dino_encoder"] = embed.encoder
        return RankParams.parse(fields, prefix="rank")


class ExplainConfig(ExplainParams):
    enabled: bool = Field(True, description="Explain every personalized model (FineXL) in the main job.")
    evaluate: bool = Field(True, description="Score the explanations of models with a known truth (eval_explain).")

    def stage_params(self, embed: EmbedConfig) -> ExplainParams | None:
        """The explain stage's parameters; its encoder follows the embed section's vision-language
        encoder unless set here (None: no vision-language encoder, nothing to explain with)."""
        fields = {k: v for k, v in self.model_dump(exclude_unset=True).items() if k in ExplainParams.model_fields}
        if "encoder" not in self.model_fields_set:
            if embed.vl_encoder is None:
                return None
            fields["encoder"] = embed.vl_encoder
        return ExplainParams.parse(fields, prefix="explain")


class DescribeConfig(DescribeParams):
    enabled: bool = Field(True, description="Caption the world's held-out viewers from K examples (DEPER) in "
                          "the main job (the embedded world only: DEPER reads a world folder).")
    evaluate: bool = Field(True, description="Score DEPER against the frozen captioner and the style-only "
                           "persona on those viewers (eval_describe).")
    eval_queries: int = Field(5, ge=1, description="Query images per held-out viewer in the main job's score.")

    def stage_params(self, world: str) -> DescribeParams:
        fields = {k: v for k, v in self.model_dump().items() if k in DescribeParams.model_fields}
        return DescribeParams.parse({**fields, "world": world}, prefix="describe")

    def eval_params(self, world: str) -> EvalDescribeParams:
        """A quick score at the section's K and seed: eval-describe's defaults score K = 1, 3, 5, 10 over
        three seeds on the medium world (minutes); the main job keeps to seconds."""
        return EvalDescribeParams.parse(dict(world=world, captioner=self.captioner, deper=self.deper, ks=[self.k],
                                             seeds=[self.seed], max_queries=self.eval_queries, resamples=200),
                                        prefix="describe")


class GenerateConfig(GenerateParams):
    enabled: bool = Field(True, description="Personalize the generator in the main job.")


#: The main job's generate work: two subjects × LoRA and full fine-tuning plus two known-truth
#: snapshot sets, sized to keep the whole main job within minutes on 2 cores. The `generate`
#: deployment and command run GenerateParams' own (longer) defaults.
QUICK_GENERATE = dict(steps=40, inversion_steps=30, samples=8, locality_samples=4,
                      truth_shifts=[["style:a pencil sketch@1.0"],
                                    ["style:a pencil sketch@0.6", "color:warm orange tones@0.8"]],
                      truth_steps=[10, 20])


class PipelineConfig(StageParams):
    sources: list[IngestParams] | None = Field(
        None, description="What to ingest; None means the embedded default data: the synthetic world.")
    world: WorldMakeParams = WorldMakeParams()
    ingest_batch_size: int = Field(256, ge=1, description="Images per ingest batch, unless a source sets its own.")
    generate: GenerateConfig = GenerateConfig(**QUICK_GENERATE)
    embed: EmbedConfig = EmbedConfig()
    rank: RankConfig = RankConfig()
    explain: ExplainConfig = ExplainConfig()
    describe: DescribeConfig = DescribeConfig()
    reuse: bool = Field(True, description="Skip a step (eval-aligner, rank, explain, describe) whose inputs, "
                                          "settings and code are unchanged since it last finished (flows/reuse.py); "
                                          "false recomputes every step.")

    @field_validator("generate", mode="before")
    @classmethod
    def _quick_unless_set(cls, value):
        # A config's generate section changes the main job's preset, field by field.
        return {**QUICK_GENERATE, **value} if isinstance(value, dict) else value

    def generate_params(self) -> GenerateParams:
        fields = {k: v for k, v in self.generate.model_dump().items() if k in GenerateParams.model_fields}
        return GenerateParams.parse(fields, prefix="generate")

    def ingest_params(self) -> list[IngestParams]:
        return [s if "batch_size" in s.model_fields_set else s.replace(batch_size=self.ingest_batch_size)
                for s in self.sources or []]


def parse_config(data: dict | None) -> PipelineConfig:
    """The pipeline configuration; ConfigError naming the first bad field (e.g. `config.rank.shrinkage`)."""
    return PipelineConfig.parse(data, prefix="config")


def load_config(path: str | Path) -> PipelineConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())  # JSON is YAML too
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML/JSON: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return parse_config(data)
