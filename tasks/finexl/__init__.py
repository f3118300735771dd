"""FineXL (explain stage): say in words each aspect in which a personalized model departs from its base
model, and how strongly. Pure functions of arrays; the flow feeds them from the tables.

    space = encode_concept_space(encoder, load_vocabulary(params.vocabulary), params.probe_prompts)
    calibration = fit_method(train_models, space, params, params.form, params.complemented_aspects).calibration
    e = explain_model(model_id, PairInputs(base, personalized, base_stats, pers_stats), space,
                      calibration, taxonomy.names, params.form, params.complemented_aspects, ...)
    e.to_json()  # {"aspects": [...], "summary": ...};  explanations_table([e, ...])
"""

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
from persona_lens.tasks.finexl.evaluate import FittedMethod, fit_method, run_split  # noqa: E402  (uses the above)

__all__ = [
    "Calibration", "CalibrationError", "ConceptDictionary", "ConceptSpace", "FittedMethod", "fit_concept_dictionary",
    "fit_method", "run_split", "ExplainInputError", "ExplainParams", "Explanation",
    "FolderPairs", "PairInputs", "PairingError", "STATISTICS", "Vocabulary", "VocabularyError",
    "build_concept_space", "concept_scores", "decompose", "divergence_vector", "encode_concept_space",
    "explain_model", "explanation_rows", "explanations_table", "fit_calibration", "fit_whitening",
    "image_statistics", "level_of", "load_vocabulary", "model_evidence", "pair_differences", "pair_folders",
    "pair_shares", "paraphrase_vocabulary", "published_core", "taxonomy_vocabulary", "texts_to_encode",
    "whitened_nnls",
]
