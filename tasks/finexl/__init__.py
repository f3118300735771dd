"""FineXL (explain stage): say in words each aspect in which a personalized model departs from its base
model, and how strongly. Pure functions of arrays underneath; runner.py feeds them from the tables,
and flows/explain.py calls only the tasks this module exposes.

    explainer = load_explainer()                         # the packaged one (train-explainer fits others)
    space = explainer.concept_space(encoder)
    e = explain_model(model_id, PairInputs(base, personalized, base_stats, pers_stats), space,
                      explainer.calibration, taxonomy.names, explainer.form, explainer.complemented, ...)
    e.to_json()  # {"aspects": [...], "summary": ...};  explanations_table([e, ...])
"""

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.tasks.finexl.attribution import PairInputs, concept_scores, model_evidence, pair_shares
from persona_lens.tasks.finexl.calibration import Calibration, CalibrationError, fit_calibration
from persona_lens.tasks.finexl.core import ExplainInputError, divergence_vector, pair_differences, published_core
from persona_lens.tasks.finexl.dictionary import ConceptDictionary, fit_concept_dictionary
from persona_lens.tasks.finexl.directions import (
    ConceptSpace, build_concept_space, decompose, encode_concept_space, texts_to_encode,
)
from persona_lens.tasks.finexl.explanation import Explanation, explain_model, level_of
from persona_lens.tasks.finexl.image_stats import STATISTICS, image_statistics
from persona_lens.tasks.finexl.inputs import FolderPairs, PairingError, pair_folders
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.finexl.tables import explanation_rows, explanations_table
from persona_lens.tasks.finexl.vocabulary import (
    Vocabulary, VocabularyError, load_vocabulary, paraphrase_vocabulary, taxonomy_vocabulary,
)
from persona_lens.tasks.finexl.whitened import fit_whitening, whitened_nnls
from persona_lens.tasks.finexl.explainer import Explainer, ExplainerError, load_explainer, save_explainer
from persona_lens.tasks.finexl.training import FittedMethod, fit_explainer, fit_method
from persona_lens.tasks.finexl.evaluate import run_split  # noqa: E402  (uses the above)
from persona_lens.tasks.finexl.params import EvalExplainParams, TrainExplainerParams
from persona_lens.tasks.finexl.runner import (
    EVAL_TABLE, explain_folders, explain_root, evaluate_explainer, train_explainer,
)

__all__ = [
    "EVAL_TABLE", "EvalExplainParams", "Explainer", "ExplainerError", "TrainExplainerParams", "explain_folders",
    "explain_root", "evaluate_explainer", "fit_explainer", "load_explainer", "save_explainer", "train_explainer",
    "explain_root_task", "train_explainer_task", "evaluate_explainer_task",
    "Calibration", "CalibrationError", "ConceptDictionary", "ConceptSpace", "FittedMethod", "fit_concept_dictionary",
    "fit_method", "run_split", "ExplainInputError", "ExplainParams", "Explanation",
    "FolderPairs", "PairInputs", "PairingError", "STATISTICS", "Vocabulary", "VocabularyError",
    "build_concept_space", "concept_scores", "decompose", "divergence_vector", "encode_concept_space",
    "explain_model", "explanation_rows", "explanations_table", "fit_calibration", "fit_whitening",
    "image_statistics", "level_of", "load_vocabulary", "model_evidence", "pair_differences", "pair_folders",
    "pair_shares", "paraphrase_vocabulary", "published_core", "taxonomy_vocabulary", "texts_to_encode",
    "whitened_nnls",
]

# Thin task wrappers (no caching: inputs are roots and arrays; the expensive parts cache themselves).
explain_root_task = task(explain_root, name="explain-models", cache_policy=NO_CACHE)
train_explainer_task = task(train_explainer, name="train-explainer", cache_policy=NO_CACHE)
evaluate_explainer_task = task(evaluate_explainer, name="evaluate-explainer", cache_policy=NO_CACHE)
