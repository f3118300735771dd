"""The explain stage's work, as plain functions that flows/explain.py wraps:

- `explain_root`: every personalized model of a dataset root explained with a fitted explainer →
  `explanations` rows, quarantine rows, and (when some models have known truth) `eval_explain` rows
  scoring the explanations and the coarse baseline against it;
- `explain_folders`: two image folders paired by file name → one `Explanation` (the CLI's `--base`);
- `train_explainer`: fit an explainer on the world's training profiles and save it;
- `evaluate_explainer` (evaluate.py): the held-out evaluation as `eval_explain` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from persona_lens.tasks.finexl.explainer import Explainer, load_explainer, save_explainer
from persona_lens.tasks.finexl.explanation import Explanation, explain_model
from persona_lens.tasks.finexl.evaluate import evaluate_explainer  # noqa: F401  (the stage's entry points, in one place)
from persona_lens.tasks.finexl.params import FITTED_FIELDS, ExplainParams, TrainExplainerParams
from persona_lens.tasks.params import ConfigError

STAGE = "explain"
EVAL_TABLE = f"eval_{STAGE}"
#: The split name of the main job's own scores (its models, not held-out worlds).
ROOT_SPLIT = "root"


def _load(params: ExplainParams) -> tuple[Explainer, object, object]:
    """The explainer, the encoder and the concept space, after checking that the parameters do not
    ask for a fitted setting other than the file's."""
    from persona_lens.models.registry import load_vl_encoder

    explainer = load_explainer(params.explainer)
    fitted = {"form": explainer.form, "probe_prompts": explainer.probe_prompts,
              "whiten_components": explainer.whiten_components, "complemented_aspects": explainer.complemented}
    clash = [f"{k}={getattr(params, k)!r} (the explainer has {v!r})" for k, v in fitted.items()
             if k in params.model_fields_set and getattr(params, k) != v]
    clash += [f"{k}={getattr(params, k)!r}" for k in FITTED_FIELDS
              if k in params.model_fields_set and k not in fitted and getattr(params, k) != ExplainParams.model_fields[k].default]
    if clash:
        raise ConfigError(f"explain: {', '.join(clash)}: these are fixed when an explainer is fitted; fit one "
                          f"with them (`persona-lens train-explainer`) and pass it as `explainer`")
    encoder = load_vl_encoder(params.encoder)
    return explainer, encoder, explainer.concept_space(encoder)


def _explain(model_id: str, inputs, explainer: Explainer, space, params: ExplainParams) -> Explanation:
    from persona_lens.world.taxonomy import load_taxonomy

    return explain_model(model_id, inputs, space, explainer.calibration, load_taxonomy().names, explainer.form,
                         explainer.complemented, params.level_edges, params.bootstrap, params.seed,
                         params.ortho_threshold, params.residual_threshold, min_pairs=params.min_pairs)


@dataclass
class RootExplanations:
    explanations: list[Explanation]
    tables: dict[str, pa.Table]                       # explanations, quarantine, eval_explain (when truth)
    methods: dict[str, str] = field(default_factory=dict)   # model_id -> generation method


def explain_root(root, params: ExplainParams, evaluate: bool = True, resamples: int = 200) -> RootExplanations:
    """Explain every personalized model of `root`; with `evaluate`, score the models that have a known
    truth (world profiles, known-truth snapshots) against it, beside the coarse baseline."""
    from persona_lens.schemas import get_schema
    from persona_lens.tasks.finexl.generated import load_generated_models
    from persona_lens.tasks.finexl.tables import explanations_table
    from persona_lens.tasks.quarantine import quarantine_table

    explainer, encoder, space = _load(params)
    found = load_generated_models(root, encoder, params.min_pairs, list(params.models) if params.models else None)
    explanations = [_explain(m.model_id, m.inputs, explainer, space, params) for m in found.models]
    tables = {"explanations": explanations_table(explanations), "quarantine": quarantine_table(found.quarantine)}
    if evaluate and found.models:
        rows = root_evaluation_rows(root, found.models, explainer, space, params, resamples)
        if rows:
            tables[EVAL_TABLE] = get_schema(EVAL_TABLE).from_rows(rows)
    return RootExplanations(explanations, tables, {m.model_id: m.method for m in found.models})


def root_evaluation_rows(root, models, explainer: Explainer, space, params: ExplainParams,
                         resamples: int = 200) -> list[dict]:
    """`eval_explain` rows for the root's models with a known truth: the explainer against the coarse
    baseline it carries a calibration for, and random concepts (chance); split `root` over all of them,
    `root_world` / `root_generated` over each source when both are present. Nothing here is fitted: the
    explainer and the baseline's map were fitted on the world's training seeds."""
    from persona_lens.tasks.finexl.evaluate import evaluation_rows
    from persona_lens.tasks.finexl.generated import load_truth, truth_sources
    from persona_lens.tasks.finexl.training import baseline_prediction, method_prediction
    from persona_lens.tasks.finexl.truth_data import ModelPairs
    from persona_lens.world.taxonomy import load_taxonomy

    ids = [m.model_id for m in models]
    truth, sources = load_truth(root, ids, load_taxonomy().names), truth_sources(root, ids)
    known = [ModelPairs(m.model_id, sources[m.model_id], m.inputs.base, m.inputs.personalized, m.inputs.base_stats,
                        m.inputs.personalized_stats, m.inputs.identity_base, m.inputs.identity_personalized,
                        truth[m.model_id]) for m in models if m.model_id in truth]
    rows = []
    # All known-truth models together, then each source alone: the world's simulated models, and the
    # real generator's known-truth snapshots (the "real-GAN" numbers, reported whatever they are).
    for split, group in [(ROOT_SPLIT, known), *((f"{ROOT_SPLIT}_{s}", [m for m in known if m.group == s])
                                                for s in sorted({m.group for m in known}))]:
        if len(group) < 2 or (split != ROOT_SPLIT and len(group) == len(known)):
            continue
        preds = {"finexl": [method_prediction(m, space, explainer, params) for m in group],
                 "coarse": [baseline_prediction("coarse", m, space, params, explainer.baselines.get("coarse"))
                            for m in group],
                 "random": [baseline_prediction("random", m, space, params, None) for m in group]}
        rows += evaluation_rows(group, preds, params, split, resamples)[0]
    return rows


def explain_folders(base: str | Path, personalized: str | Path, params: ExplainParams) -> tuple[Explanation, list[dict]]:
    """Explain the pictures of two folders paired by file name (quarantine rows for the rest)."""
    from persona_lens.tasks.finexl.attribution import PairInputs
    from persona_lens.tasks.encoding import encode_pictures
    from persona_lens.tasks.finexl.image_stats import image_statistics
    from persona_lens.tasks.finexl.inputs import pair_folders

    explainer, encoder, space = _load(params)
    pairs = pair_folders(base, personalized, params.min_pairs)
    vb, _ = encode_pictures(encoder, pairs.base)
    vp, _ = encode_pictures(encoder, pairs.personalized)
    inputs = PairInputs(vb, vp, image_statistics(pairs.base), image_statistics(pairs.personalized))
    model_id = f"{Path(personalized).name or 'personalized'} vs {Path(base).name or 'base'}"
    return _explain(model_id, inputs, explainer, space, params), pairs.quarantine


# --- fitting and evaluating -----------------------------------------------------------------------

def train_explainer(params: TrainExplainerParams, out: str | Path, log=print) -> tuple[Path, Explainer]:
    """Fit an explainer on the world profiles of `params.train_seeds` and save it to `out`."""
    from persona_lens.models.registry import load_vl_encoder
    from persona_lens.tasks.finexl.directions import encode_concept_space
    from persona_lens.tasks.finexl.training import fit_explainer
    from persona_lens.tasks.finexl.truth_data import worlds
    from persona_lens.tasks.finexl.vocabulary import load_vocabulary

    encoder = load_vl_encoder(params.encoder)
    train = worlds(params.size, params.train_seeds, encoder, params.cache, params.workers)
    space = encode_concept_space(encoder, load_vocabulary(params.vocabulary), params.probe_prompts,
                                 params.whiten_components)
    explainer = fit_explainer(train, space, params, encoder.name, log=log)
    explainer = Explainer(**{**explainer.__dict__, "trained_on": {**explainer.trained_on, "size": params.size,
                                                                   "seeds": list(params.train_seeds)}})
    return save_explainer(explainer, out), explainer
