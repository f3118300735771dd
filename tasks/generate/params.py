"""The generate stage's parameters and its personalization-job YAML, checked when they are built.

Every check runs at construction, before any image is read or any weight loaded; a bad value raises
ConfigError (via `StageParams.parse` / `load_job`) naming the field and the value.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from persona_lens.models.diffusion import is_diffusers_folder
from persona_lens.models.gan import NAME as DCGAN_NAME
from persona_lens.tasks.generate.diffusion import METHODS as DIFFUSION_METHODS
from persona_lens.tasks.generate.personalize import METHODS
from persona_lens.tasks.generate.subjects import packaged_photos
from persona_lens.tasks.generate.truth import parse_shift
from persona_lens.tasks.params import ConfigError, StageParams

GENERATORS = (DCGAN_NAME,)
JOB_METHODS = tuple(dict.fromkeys(METHODS + DIFFUSION_METHODS))


def check_generator(value: str, diffusers: bool = False) -> str:
    """A known generator name, or a folder holding a DCGAN `weights.tar` (returned absolute); with
    `diffusers`, also a diffusers pipeline folder (`model_index.json`)."""
    if value in GENERATORS:
        return value
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ValueError(f"unknown generator {value!r}: not one of {list(GENERATORS)} and not an existing folder")
    if diffusers and is_diffusers_folder(path):
        return str(path.resolve())
    if not (path / "weights.tar").is_file():
        what = "weights.tar (DCGAN) nor model_index.json (diffusers)" if diffusers else "weights.tar"
        raise ValueError(f"generator folder {str(path)!r} has no {what}")
    return str(path.resolve())


def is_diffusers_generator(value: str) -> bool:
    return value not in GENERATORS and is_diffusers_folder(value)


def check_method(value: str) -> str:
    if value not in METHODS:
        raise ValueError(f"unknown method {value!r}; known: {list(METHODS)}")
    return value


def check_subject_source(value: str) -> str:
    """A packaged photo name, or an existing folder of reference images."""
    if value in packaged_photos() or Path(value).expanduser().is_dir():
        return value
    raise ValueError(f"subject {value!r} is neither a packaged photo {sorted(packaged_photos())} "
                     f"nor an existing folder")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Training(_Strict):
    steps: int = Field(60, ge=1)
    lr: float | None = Field(None, gt=0)
    rank: int = Field(8, ge=1, le=64)
    alpha: float = Field(8.0, gt=0)
    locality_weight: float = Field(1.0, ge=0)
    inversion_steps: int = Field(60, ge=0)
    inversion_candidates: int = Field(128, ge=1)
    seed: int = Field(0, ge=0)
    checkpoint_every: int = Field(20, ge=1)
    threads: int = Field(1, ge=1)


class LatentSpec(_Strict):
    seed: int = Field(1000, ge=0)
    count: int = Field(16, ge=1, le=4096)
    noise: float = Field(0.15, ge=0)


class SubjectSpec(_Strict):
    """Exactly one source of references: a packaged photo, a folder, a manifest, or an ingested subject."""

    name: str = Field(min_length=1)
    packaged: str | None = None
    folder: str | None = None
    manifest: str | None = None
    ingested: bool = False        # the `images` rows whose `subject` is `name` (resolved by the flow)

    @model_validator(mode="after")
    def _one_source(self) -> SubjectSpec:
        given = [k for k in ("packaged", "folder", "manifest") if getattr(self, k)] + (["ingested"] if self.ingested else [])
        if len(given) != 1:
            raise ValueError(f"subject {self.name!r} needs exactly one of packaged, folder, manifest, ingested; "
                             f"got {given or 'none'}")
        if self.packaged and self.packaged not in packaged_photos():
            raise ValueError(f"unknown packaged photo {self.packaged!r}; known: {sorted(packaged_photos())}")
        if self.folder and not Path(self.folder).expanduser().is_dir():
            raise ValueError(f"reference folder {self.folder!r} does not exist")
        if self.manifest and not Path(self.manifest).expanduser().is_file():
            raise ValueError(f"manifest {self.manifest!r} does not exist")
        return self


class DiffusionSpec(_Strict):
    """Settings of the diffusers path (ignored by the DCGAN): the recipes' prompts, sampling, device."""

    token: str | None = None            # None: "sks" (lora, dreambooth), "<subject name>" (textual inversion)
    class_word: str = Field("person", min_length=1)
    instance_prompt: str = "a photo of {token} {class_word}"
    class_prompt: str = "a photo of {class_word}"
    prior_loss_weight: float = Field(1.0, ge=0)
    num_class_images: int = Field(8, ge=1, le=1000)
    batch_size: int = Field(1, ge=1, le=64)
    resolution: int | None = Field(None, ge=8, le=2048)    # None: the pipeline's native size
    sample_steps: int = Field(30, ge=1, le=1000)
    guidance_scale: float = Field(7.5, ge=0)
    device: str = "auto"
    dtype: str = "auto"
    vl_encoder: str | None = "persona-lens-lit"             # prompt fidelity; None: not scored

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str) -> str:
        if v not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {v!r}")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not (v in ("auto", "cpu") or v.startswith("cuda")):
            raise ValueError(f"device must be auto, cpu or cuda[:n], got {v!r}")
        return v


def _check_template(where: str, text: str) -> str:
    try:
        return text.format(token="{token}", class_word="{class_word}")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{where} {text!r} may use only the placeholders {{token}} and {{class_word}} ({exc})") from exc


def read_prompts(path: str | Path) -> list[str]:
    """A prompts YAML file: a list of strings, or a mapping with a `prompts` list."""
    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read prompts file {str(path)!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"prompts file {str(path)!r} is not valid YAML: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("prompts")
    if not isinstance(data, list) or not data or not all(isinstance(p, str) and p.strip() for p in data):
        raise ValueError(f"prompts file {str(path)!r} must hold a non-empty list of prompts "
                         f"(or a mapping with one under 'prompts')")
    return data


def prompt_list(value):
    """Prompts given inline (a list) or as a prompts YAML file (a path)."""
    return read_prompts(value) if isinstance(value, str) else value


def check_seeds(value: list[int]) -> list[int]:
    if not value or any(s < 0 for s in value) or len(set(value)) != len(value):
        raise ValueError(f"seeds must be distinct non-negative integers, got {value}")
    return value


class PersonalizationJob(StageParams):
    """One personalization, as written in a job YAML file."""

    subject: SubjectSpec
    method: str
    generator: str = DCGAN_NAME
    prompts: list[str] = []              # diffusers: a list, or a prompts YAML file; {token}, {class_word}
    seeds: list[int] = [0, 1, 2, 3]      # diffusers: every prompt is drawn with every seed
    diffusion: DiffusionSpec = DiffusionSpec()
    model_id: str | None = None
    num_references: int = Field(6, ge=3, le=10)
    latents: LatentSpec = LatentSpec()
    training: Training = Training()
    shifts: list[str] = []               # known-truth concepts applied to the references
    snapshot_steps: list[int] = []
    output: str | None = None            # checkpoints + adapter folder (path or fsspec URL)

    _generator = field_validator("generator")(classmethod(lambda cls, v: check_generator(v, diffusers=True)))

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v not in JOB_METHODS:
            raise ValueError(f"unknown method {v!r}; known: {list(JOB_METHODS)}")
        return v

    _prompts = field_validator("prompts", mode="before")(classmethod(lambda cls, v: prompt_list(v)))
    _seeds = field_validator("seeds")(classmethod(lambda cls, v: check_seeds(v)))

    @property
    def is_diffusers(self) -> bool:
        return is_diffusers_generator(self.generator)

    @property
    def token(self) -> str:
        """The placeholder word of the subject in prompts."""
        if self.diffusion.token:
            return self.diffusion.token
        return f"<{self.subject.name}>" if self.method == "textual_inversion" else "sks"

    @model_validator(mode="after")
    def _backend(self) -> PersonalizationJob:
        if not self.is_diffusers:
            if self.method not in METHODS:
                raise ValueError(f"method {self.method!r} needs a diffusers generator folder; the DCGAN "
                                 f"{self.generator!r} knows {list(METHODS)}")
            if self.prompts:
                raise ValueError("prompts apply to diffusers generators only; the DCGAN is driven by latent codes")
            return self
        if self.method not in DIFFUSION_METHODS:
            raise ValueError(f"method {self.method!r} is not available for the diffusers generator "
                             f"{self.generator!r}; known: {list(DIFFUSION_METHODS)}")
        if not self.prompts:
            raise ValueError("a diffusers job needs prompts (a list, or a prompts YAML file)")
        if self.shifts:
            raise ValueError("shifts (known-truth concepts) apply to the DCGAN path only")
        for i, p in enumerate(self.prompts):
            _check_template(f"prompts[{i}]", p)
            if self.method == "textual_inversion" and "{token}" not in p and self.token not in p:
                raise ValueError(f"prompts[{i}] {p!r} does not use the learned token ({{token}} = {self.token!r}): "
                                 f"textual inversion changes only prompts that do")
        _check_template("diffusion.instance_prompt", self.diffusion.instance_prompt)
        _check_template("diffusion.class_prompt", self.diffusion.class_prompt)
        return self

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, v: list[str]) -> list[str]:
        for s in v:
            parse_shift(s)
        return v

    @model_validator(mode="after")
    def _snapshots(self) -> PersonalizationJob:
        bad = [s for s in self.snapshot_steps if not 1 <= s <= self.training.steps]
        if bad:
            raise ValueError(f"snapshot_steps must lie in [1, training.steps={self.training.steps}], got {bad}")
        return self


def load_job(path: str | Path, **overrides) -> PersonalizationJob:
    """Read and validate a job YAML file (fields in `overrides` replace the file's, e.g. `generator`
    for `--model PATH`); ConfigError names the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read job file {str(path)!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"job file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"job file {str(path)!r} must hold a mapping, got {type(data).__name__}")
    if isinstance(data.get("prompts"), str) and not Path(data["prompts"]).expanduser().is_absolute():
        data["prompts"] = str(path.parent / data["prompts"])   # a prompts file sits beside its job
    try:
        return PersonalizationJob.parse(data, **overrides)
    except ConfigError as exc:
        raise ConfigError(f"job file {str(path)!r}: {exc}") from exc


class GenerateParams(StageParams):
    """The generate stage in the main job: subjects × methods, plus known-truth snapshots."""

    generator: str = Field(DCGAN_NAME, description="dcgan-face-64 (shipped weights) or a folder with a DCGAN weights.tar.")
    subjects: list[str] = Field(["astronaut", "grace_hopper"],
                                description="Subjects: packaged face photos by name, or folders of reference images.")
    methods: list[str] = Field(["lora", "full"], description="Personalization methods: lora, full.")
    num_references: int = Field(6, ge=3, le=10, description="Reference faces per subject (augmented when fewer).")
    steps: int = Field(60, ge=1, description="Training steps per personalization.")
    rank: int = Field(8, ge=1, le=64, description="LoRA rank.")
    locality_weight: float = Field(1.0, ge=0, description="Weight of the regulariser that keeps other faces as the base draws them.")
    inversion_steps: int = Field(60, ge=0, description="Optimisation steps inverting each reference into a latent code.")
    samples: int = Field(16, ge=2, le=4096, description="Base/personalized twins per model (subject latents).")
    locality_samples: int = Field(8, ge=0, le=4096, description="Random latents per model for the locality check.")
    latent_noise: float = Field(0.15, ge=0, description="Spread of the twins' latents around the subject's codes.")
    truth: bool = Field(True, description="Also train the known-truth snapshots (ground truth for explain).")
    truth_subject: str = Field("astronaut", description="Subject whose references the known concepts are applied to.")
    truth_shifts: list[list[str]] = Field(description="Known-truth reference sets: groups of aspect:concept@intensity shifts.", default=[["style:a pencil sketch@1.0"], ["color:warm orange tones@0.8"],
                                     ["lighting:dim low-key light@0.7"],
                                     ["style:a pencil sketch@0.6", "color:warm orange tones@0.8"]])
    truth_steps: list[int] = Field([15, 30], description="Training steps at which known-truth snapshots are kept.")
    truth_method: str = Field("lora", description="Method of the known-truth snapshots.")
    seed: int = Field(0, ge=0, description="Everything (inversion, training, latents) follows from it.")
    threads: int = Field(1, ge=1, description="Torch threads for training (1 was fastest and reproducible here).")

    _generator = field_validator("generator")(classmethod(lambda cls, v: check_generator(v)))
    _method = field_validator("truth_method")(classmethod(lambda cls, v: check_method(v)))

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        return [check_method(m) for m in v]

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"subjects must be distinct, got {v}")
        return [check_subject_source(s) for s in v]

    @field_validator("truth_shifts")
    @classmethod
    def _truth_shifts(cls, v: list[list[str]]) -> list[list[str]]:
        for group in v:
            if not group:
                raise ValueError("every truth_shifts entry needs at least one shift")
            shifts = [parse_shift(s) for s in group]
            aspects = [s.concept.aspect for s in shifts]
            if len(set(aspects)) != len(aspects):
                raise ValueError(f"a truth_shifts entry may shift each aspect once, got {group}")
        return v

    @model_validator(mode="after")
    def _truth(self) -> GenerateParams:
        if self.truth:
            check_subject_source(self.truth_subject)
            if not self.truth_steps or any(s < 1 for s in self.truth_steps):
                raise ValueError(f"truth_steps must be positive steps, got {self.truth_steps}")
        return self


class GenerateJobParams(StageParams):
    """One personalization job file for the `generate-job` flow (checked, and read, when built)."""

    job: str = Field(description="A personalization job YAML file (docs/generate.md lists its fields).")
    model: str | None = Field(None, description="Replaces the job's generator: a diffusers or DCGAN folder.")
    prompts: str | None = Field(None, description="Replaces the job's prompts: a prompts YAML file.")

    @model_validator(mode="after")
    def _readable_job(self) -> GenerateJobParams:
        try:
            self.load()
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def load(self) -> PersonalizationJob:
        overrides = {k: v for k, v in (("generator", self.model), ("prompts", self.prompts)) if v is not None}
        return load_job(self.job, **overrides)


class DrawParams(StageParams):
    """Draw with a generator, without training: its base outputs, and an adapter's twins of them."""

    model: str = Field(DCGAN_NAME, description="dcgan-face-64, a DCGAN weights folder or a diffusers pipeline folder.")
    prompts: list[str] = Field([], description="Text prompts (a list, or a prompts YAML file); diffusers only.")
    seeds: list[int] = Field([0, 1, 2, 3], description="Seeds: every prompt is drawn with every seed (the DCGAN: "
                                                       "one face per seed).")
    adapter: str | None = Field(None, description="A trained adapter (.safetensors) of this base: also draw its "
                                                  "personalized twins.")
    model_id: str | None = Field(None, description="Name of the personalized model (default: the adapter's).")
    subject: str | None = Field(None, description="Subject of the personalized model (default: the adapter's).")
    device: str = Field("auto", description="auto, cpu or cuda[:n] (diffusers).")
    dtype: str = Field("auto", description="auto, float32, float16 or bfloat16 (diffusers).")
    sample_steps: int = Field(30, ge=1, le=1000, description="Sampling steps (diffusers).")
    guidance_scale: float = Field(7.5, ge=0, description="Classifier-free guidance scale (diffusers).")
    resolution: int | None = Field(None, ge=8, le=2048, description="Image size (diffusers; None: native).")
    vl_encoder: str | None = Field("persona-lens-lit", description="Scores prompt fidelity of the twins; none: not scored.")

    _model = field_validator("model")(classmethod(lambda cls, v: check_generator(v, diffusers=True)))
    _device = field_validator("device")(classmethod(lambda cls, v: DiffusionSpec._device(v)))
    _dtype = field_validator("dtype")(classmethod(lambda cls, v: DiffusionSpec._dtype(v)))

    _prompts = field_validator("prompts", mode="before")(classmethod(lambda cls, v: prompt_list(v)))
    _seeds = field_validator("seeds")(classmethod(lambda cls, v: check_seeds(v)))

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().is_file():
            raise ValueError(f"adapter file {v!r} does not exist")
        return str(Path(v).expanduser().resolve()) if v else v

    @model_validator(mode="after")
    def _backend(self) -> DrawParams:
        if is_diffusers_generator(self.model) and not self.prompts:
            raise ValueError(f"the diffusers pipeline {self.model!r} needs prompts (a list, or a prompts YAML file)")
        if not is_diffusers_generator(self.model) and self.prompts:
            raise ValueError(f"the DCGAN {self.model!r} is driven by latent codes: it takes seeds, not prompts")
        return self
