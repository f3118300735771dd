"""How explanations are shown: the text the CLI prints, the Markdown artifact per model, and where a
fitted explainer is written."""

from __future__ import annotations

import re
from pathlib import Path

from persona_lens.tasks.finexl.explanation import Explanation


def explanation_text(e: Explanation) -> str:
    """Plain text: the summary paragraph, then one line per aspect (most intense first)."""
    lines = [e.summary, ""]
    for a in sorted(e.aspects, key=lambda a: -a.intensity):
        lines.append(f"  {a.aspect:<12} {a.level:<9} intensity {a.intensity:.2f}  confidence {a.confidence:.2f}  "
                     f"{a.text}")
    return "\n".join(lines)


def explanation_markdown(e: Explanation) -> str:
    """A Markdown table of every aspect, with the concepts and the pairs that carry each shift."""
    rows = ["| aspect | level | intensity | confidence | from | to | pairs carrying it |", "|---|---|---|---|---|---|---|"]
    for a in sorted(e.aspects, key=lambda a: -a.intensity):
        pairs = ", ".join(f"#{i} ({s:.0%})" for i, s in a.pairs[:3]) if a.pairs else ""
        rows.append(f"| {a.aspect} | {a.level} | {a.intensity:.2f} | {a.confidence:.2f} | {a.concept_from or ''} | "
                    f"{a.concept_to or ''} | {pairs} |")
    return f"### {e.model_id}\n\n{e.summary}\n\n" + "\n".join(rows) + "\n"


def artifact_key(model_id: str) -> str:
    """A Prefect artifact key for a model (keys allow lowercase letters, digits and dashes only)."""
    key = re.sub(r"[^a-z0-9-]+", "-", f"explain-{model_id}".lower()).strip("-")
    return re.sub(r"-{2,}", "-", key)[:120]


def explainer_path(root, params) -> Path:
    """Where train-explainer writes: `params.out`, else `<root>/explainers/finexl-<encoder>.safetensors`
    (a local root only: an explainer is a model file, read from a path)."""
    from persona_lens.models.registry import encoder_slug

    if params.out:
        return Path(params.out).expanduser()
    if not root.is_local:
        raise ValueError("train-explainer on a remote root needs `out`: a local file to write the explainer to")
    return Path(root.path("explainers")) / f"finexl-{encoder_slug(params.encoder)}.safetensors"
