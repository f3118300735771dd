"""A fitted explainer: the decomposition form, its calibration (and learnt dictionary), the vocabulary
and probe prompts it was fitted with, and the baselines' calibrations from the same training models,
saved to one safetensors file so that `explain` needs no training data at run time.

    explainer = fit_explainer(train_models, space, params, encoder_name)   # training profiles only
    save_explainer(explainer, "finexl.safetensors")
    explainer = load_explainer("finexl.safetensors")
    space = explainer.concept_space(encoder)                               # checks the encoder

The file holds arrays only (safetensors tensors) and a JSON header (form, vocabulary, probes, encoder,
intercepts, what it was trained on); nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from persona_lens.tasks.finexl.calibration import AspectCalibration, Calibration
from persona_lens.tasks.finexl.dictionary import ConceptDictionary
from persona_lens.tasks.finexl.directions import ConceptSpace, encode_concept_space
from persona_lens.tasks.finexl.vocabulary import Vocabulary

#: Version of the file layout; a file of another version is refused with a message, not misread.
FORMAT = "persona-lens-finexl/1"
#: The packaged explainer (`persona-lens train-explainer` wrote it; docs/explain.md has the command).
DEFAULT_EXPLAINER = Path(__file__).resolve().parents[2] / "models" / "weights" / "finexl-explainer.safetensors"
DEFAULT_NAME = "persona-lens-finexl"
#: Baselines whose raw strengths the explainer file carries a calibration for.
CALIBRATED_BASELINES = ("coarse", "visdiff")


class ExplainerError(ValueError):
    """An explainer file is missing, of another format, or does not fit the encoder it is used with."""


@dataclass(frozen=True)
class Explainer:
    """Everything `explain_model` needs besides the pairs, and what it was fitted on."""

    form: str
    calibration: Calibration
    vocabulary: Vocabulary
    probe_prompts: tuple[str, ...]
    whiten_components: int
    complemented: tuple[str, ...]
    encoder: str
    encoder_dim: int
    baselines: dict[str, dict[str, AspectCalibration]] = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)      # groups, model count, cross-validated accuracies

    def concept_space(self, encoder) -> ConceptSpace:
        """The vocabulary's concept space under `encoder`, which must be the one the explainer was fitted with."""
        name = getattr(encoder, "name", None)
        if name != self.encoder:
            raise ExplainerError(f"this explainer was fitted with encoder {self.encoder!r}, not {name!r}: run "
                                 f"`persona-lens train-explainer --encoder {name}` to fit one for it")
        space = encode_concept_space(encoder, self.vocabulary, self.probe_prompts, self.whiten_components)
        if space.dim != self.encoder_dim:
            raise ExplainerError(f"encoder {name!r} gives {space.dim}-dimensional vectors; the explainer was "
                                 f"fitted on {self.encoder_dim}")
        return space


# --- the file -------------------------------------------------------------------------------------

_CAL_ARRAYS = ("mean", "std", "coef", "knots_x", "knots_y", "detect_coef")


def _put_calibration(tensors: dict, prefix: str, cal: AspectCalibration) -> dict:
    for name in _CAL_ARRAYS:
        value = getattr(cal, name)
        if value is not None:
            tensors[f"{prefix}.{name}"] = np.ascontiguousarray(value, dtype=np.float64)
    return {"intercept": cal.intercept, "detect_intercept": cal.detect_intercept}


def _get_calibration(tensors: dict, prefix: str, scalars: dict) -> AspectCalibration:
    got = {name: tensors.get(f"{prefix}.{name}") for name in _CAL_ARRAYS}
    return AspectCalibration(got["mean"], got["std"], got["coef"], float(scalars["intercept"]), got["knots_x"],
                             got["knots_y"], got["detect_coef"], float(scalars["detect_intercept"]))


def save_explainer(explainer: Explainer, path: str | Path) -> Path:
    """Write `explainer` to a safetensors file (atomically: a killed run leaves the old file)."""
    from safetensors.numpy import save_file

    cal = explainer.calibration
    tensors: dict[str, np.ndarray] = {}
    aspects = {a: _put_calibration(tensors, f"aspect.{a}", c) for a, c in cal.aspects.items()}
    baselines = {b: {a: _put_calibration(tensors, f"baseline.{b}.{a}", c) for a, c in cals.items()}
                 for b, cals in explainer.baselines.items()}
    if cal.stat_scale is not None:
        tensors["stat_scale"] = np.ascontiguousarray(cal.stat_scale, dtype=np.float64)
    d = cal.dictionary
    dictionary = None
    if d is not None:
        tensors["dictionary.atoms"] = np.ascontiguousarray(d.atoms, dtype=np.float64)
        if d.stat_scale is not None:
            tensors["dictionary.stat_scale"] = np.ascontiguousarray(d.stat_scale, dtype=np.float64)
        dictionary = {"block_weights": list(d.block_weights), "dim": d.dim, "statistics": d.statistics,
                      "identity": d.identity}
    v = explainer.vocabulary
    header = {
        "format": FORMAT, "form": explainer.form, "models": cal.models, "aspects": aspects,
        "baselines": baselines, "dictionary": dictionary,
        "vocabulary": {"aspects": list(v.aspects), "phrases": list(v.phrases), "concepts": list(v.concepts),
                       "source": v.source},
        "probe_prompts": list(explainer.probe_prompts), "whiten_components": explainer.whiten_components,
        "complemented": list(explainer.complemented), "encoder": explainer.encoder,
        "encoder_dim": explainer.encoder_dim, "trained_on": explainer.trained_on,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"persona_lens_finexl": json.dumps(header)})
    tmp.replace(path)
    return path


def load_explainer(path: str | Path | None = None) -> Explainer:
    """Read an explainer file (None or `persona-lens-finexl`: the packaged one)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = DEFAULT_EXPLAINER if path in (None, DEFAULT_NAME) else Path(path).expanduser()
    if not path.is_file():
        raise ExplainerError(f"explainer file {str(path)!r} does not exist; `persona-lens train-explainer` "
                             f"writes one")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a file that is not one
        raise ExplainerError(f"{str(path)!r} is not a safetensors file: {exc}") from exc
    if "persona_lens_finexl" not in meta:
        raise ExplainerError(f"{str(path)!r} is a safetensors file but not an explainer (no FineXL header)")
    h = json.loads(meta["persona_lens_finexl"])
    if h.get("format") != FORMAT:
        raise ExplainerError(f"{str(path)!r} has format {h.get('format')!r}; this version reads {FORMAT!r}")
    dictionary = None
    if h["dictionary"] is not None:
        d = h["dictionary"]
        dictionary = ConceptDictionary(tensors["dictionary.atoms"], tensors.get("dictionary.stat_scale"),
                                       tuple(d["block_weights"]), int(d["dim"]), bool(d["statistics"]),
                                       int(d["identity"]))
    cal = Calibration({a: _get_calibration(tensors, f"aspect.{a}", s) for a, s in h["aspects"].items()},
                      tensors.get("stat_scale"), int(h["models"]), dictionary)
    v = h["vocabulary"]
    vocabulary = Vocabulary(tuple(v["aspects"]), tuple(v["phrases"]), tuple(v["concepts"]), v["source"])
    baselines = {b: {a: _get_calibration(tensors, f"baseline.{b}.{a}", s) for a, s in cals.items()}
                 for b, cals in h["baselines"].items()}
    return Explainer(h["form"], cal, vocabulary, tuple(h["probe_prompts"]), int(h["whiten_components"]),
                     tuple(h["complemented"]), h["encoder"], int(h["encoder_dim"]), baselines, h["trained_on"])
