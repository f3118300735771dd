"""Rows of the `explanations` table (schemas.EXPLANATIONS) from explanations: one per model and aspect."""

from __future__ import annotations

import pyarrow as pa

from persona_lens.tasks.finexl.explanation import Explanation


def explanation_rows(explanations: list[Explanation]) -> list[dict]:
    """One row per (model, aspect), every aspect listed (intensity 0 when unchanged); the summary
    paragraph rides on an extra row with aspect "summary"."""
    rows = []
    for e in explanations:
        for a in e.aspects:
            rows.append({"model_id": e.model_id, "method": e.method, "aspect": a.aspect, "level": a.level,
                         "concept": a.concept_to, "concept_from": a.concept_from, "intensity": float(a.intensity),
                         "confidence": float(a.confidence), "measured": a.measured, "text": a.text})
        rows.append({"model_id": e.model_id, "method": e.method, "aspect": "summary", "level": None,
                     "concept": None, "concept_from": None, "measured": None,
                     "intensity": float(max((a.intensity for a in e.aspects), default=0.0)),
                     "confidence": float(min((a.confidence for a in e.aspects), default=1.0)), "text": e.summary})
    return rows


def explanations_table(explanations: list[Explanation]) -> pa.Table:
    from persona_lens.schemas import EXPLANATIONS

    return EXPLANATIONS.from_rows(explanation_rows(explanations))
