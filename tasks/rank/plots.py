"""CMC curves of a rank run: per model, the share of its queries whose subject is retrieved within the top k.

Computed from the `rankings` table (each query's first-hit rank), so a plot always shows what the
tables hold. The re-identification literature's picture: a model that kept its subject's identity
climbs to 1 at k = 1, one that drifted climbs slowly, and the base model (which never saw the
subject) shows where "no personalization" sits. Drawn at the whole-gallery instance level and within
the look-alike group (the paper's protocol).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pyarrow as pa

from persona_lens.tasks.markdown import markdown_table
from persona_lens.tasks.rank.metrics import IN_GROUP

PLOTTED = ("instance", IN_GROUP)
TABLE_KS = (1, 2, 3, 5, 10, 20)


def cmc_curves(rankings: pa.Table, granularity: str, max_k: int = 20) -> dict[str, np.ndarray]:
    """model → CMC@1..max_k (shape (max_k,)) over the model's queries that have a relevant gallery item."""
    rows = [r for r in rankings.select(["model_id", "granularity", "first_hit_rank", "num_relevant"]).to_pylist()
            if r["granularity"] == granularity and r["num_relevant"]]
    ks = np.arange(1, max_k + 1)
    ranks: dict[str, list[int]] = {}
    for r in rows:
        ranks.setdefault(r["model_id"], []).append(r["first_hit_rank"])
    return {model: (np.asarray(v)[:, None] <= ks[None, :]).mean(axis=0) for model, v in sorted(ranks.items())}


#: Largest PNG shown inline in the markdown artifact (as a data URI); a larger one is only linked.
INLINE_PNG_BYTES = 200_000


def cmc_markdown(curves: dict[str, dict[str, np.ndarray]], image_uri: str | None = None,
                 png: bytes | None = None) -> str:
    """One table per plotted granularity: CMC@k per model at a few k; the plot below (inline when
    small, and where it is stored)."""
    parts = []
    for granularity, by_model in curves.items():
        if not by_model:
            continue
        ks = [k for k in TABLE_KS if k <= len(next(iter(by_model.values())))]
        header = ["model"] + [f"cmc@{k}" for k in ks]
        rows = [[model] + [float(curve[k - 1]) for k in ks] for model, curve in by_model.items()]
        title = "instance, within the look-alike group" if granularity == IN_GROUP else granularity
        parts.append(f"### CMC: {title}\n\n{markdown_table(header, rows, digits=3)}")
    if png is not None and len(png) <= INLINE_PNG_BYTES:
        parts.append(f"![CMC curves](data:image/png;base64,{base64.b64encode(png).decode()})")
    if image_uri:
        parts.append(f"Plot: `{image_uri}`")
    return "\n\n".join(parts) or "No ranked query has its subject in the gallery: no CMC curve."


def cmc_png(curves: dict[str, dict[str, np.ndarray]]) -> bytes:
    """The curves as one PNG, a panel per granularity, a line per model (base models dashed)."""
    import matplotlib

    matplotlib.use("Agg")       # no display; must precede pyplot
    import matplotlib.pyplot as plt

    panels = [(g, c) for g, c in curves.items() if c]
    models = sorted({m for _, by_model in panels for m in by_model})
    palette = plt.get_cmap("tab20" if len(models) > 10 else "tab10")
    colour = {m: palette(i % palette.N) for i, m in enumerate(models)}      # one colour per model in every panel
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 4.2), squeeze=False)
    for ax, (granularity, by_model) in zip(axes[0], panels):
        for model, curve in by_model.items():
            ks = np.arange(1, len(curve) + 1)
            ax.step(ks, curve, where="post", linewidth=1.2, label=model, color=colour[model],
                    linestyle="--" if model.startswith("base") else "-")
        ax.set(xlabel="k", ylabel="CMC@k (subject within the top k)", ylim=(0, 1.02), xlim=(1, len(curve)),
               title="instance, within look-alike group" if granularity == IN_GROUP else granularity)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    if models:
        handles = [plt.Line2D([], [], color=colour[m], linestyle="--" if m.startswith("base") else "-")
                   for m in models]
        fig.legend(handles, models, loc="lower center", ncol=min(6, len(models)), fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(models) // 6), 1, 1))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()
