"""Gallery ablation (the paper's `get_ablation`): how FPR depends on the gallery it is measured against.

For each setting (n identities, m pictures per identity), `repeats` random galleries are drawn from
the full one: n of its identities (every picture of theirs, or m of them when m is given), and only the
queries whose subject was drawn are ranked. The personalized pictures and the subjects' real reference
pictures are ranked against each drawn gallery in the same ranker space (fitted once on the full
gallery, so only the gallery's composition varies), giving per setting: generated instance mAP, the
real-image baseline, their ratio (preservation), the same within the look-alike group, and the exact
chance AP of that gallery. A small gallery flatters everything; preservation is what stays comparable.
"""

from __future__ import annotations

import numpy as np

from persona_lens.tasks.rank.evaluate import STAGE
from persona_lens.tasks.rank.metrics import GRANULARITIES, GROUP_LEVEL, IN_GROUP, chance_average_precision, summarize
from persona_lens.tasks.rank.ranker import IdentityRanker
from persona_lens.tasks.rank.ranking import RankData, rank_vectors

SPLIT = "gallery_ablation"


def draw_gallery(instances: np.ndarray, identities: int, per_identity: int | None,
                 rng: np.random.Generator) -> np.ndarray:
    """Row indices of a gallery of `identities` individuals drawn at random, `per_identity` pictures
    of each (all of them when None or when an individual has fewer)."""
    names = np.unique(instances)
    chosen = rng.choice(names, size=min(identities, len(names)), replace=False)
    rows = []
    for name in chosen:
        own = np.flatnonzero(instances == name)
        rows.append(own if per_identity is None or len(own) <= per_identity
                    else rng.choice(own, size=per_identity, replace=False))
    return np.sort(np.concatenate(rows))


def gallery_ablation_rows(data: RankData, ranker: IdentityRanker, settings: tuple[tuple[int, int | None], ...],
                          repeats: int = 5, seed: int = 0) -> list[dict]:
    """eval_rank rows (split `gallery_ablation`, detail `identities=n per_identity=m granularity=g`)."""
    rng = np.random.default_rng(seed)
    personalized = data.queries.kinds == "personalized"
    q_vectors = ranker.project(data.query_vectors[personalized])
    q_labels = {g: data.queries.labels[g][personalized] for g in GRANULARITIES}
    r_vectors = ranker.project(data.reference_vectors) if len(data.references) else None
    g_vectors = ranker.project(data.gallery_vectors)
    g_instances = data.gallery.labels["instance"]
    within = {IN_GROUP: (GROUP_LEVEL, "instance")}
    rows = []
    for identities, per_identity in settings:
        found: dict[str, list[float]] = {}
        for _ in range(repeats):
            cut = draw_gallery(g_instances, identities, per_identity, rng)
            cut_labels = {g: data.gallery.labels[g][cut] for g in GRANULARITIES}
            drawn = set(g_instances[cut].tolist())
            keep = np.isin(q_labels["instance"], list(drawn))
            if not keep.any():
                continue
            generated = rank_vectors(q_vectors[keep], {g: v[keep] for g, v in q_labels.items()}, g_vectors[cut],
                                     cut_labels, (1,), within=within)
            real = None
            if r_vectors is not None:
                subjects = set(q_labels["instance"][keep].tolist())
                r_keep = np.isin(data.references.labels["instance"], list(subjects))
                if r_keep.any():
                    real = rank_vectors(r_vectors[r_keep], {g: data.references.labels[g][r_keep] for g in GRANULARITIES},
                                        g_vectors[cut], cut_labels, (1,), within=within)
            for g in ("instance", IN_GROUP):
                gen = summarize(generated[g]).get("mAP")
                if gen is None:
                    continue
                found.setdefault(f"generated_mAP|{g}", []).append(gen)
                if real is not None and (base := summarize(real[g]).get("mAP")):
                    found.setdefault(f"real_mAP|{g}", []).append(base)
                    found.setdefault(f"preservation|{g}", []).append(gen / base)
            found.setdefault("chance_mAP|instance", []).append(_chance(generated["instance"].num_relevant, len(cut)))
            found.setdefault("gallery_size|instance", []).append(float(len(cut)))
        for name, values in sorted(found.items()):
            metric, granularity = name.split("|")
            detail = f"identities={identities} per_identity={per_identity or 'all'} granularity={granularity}"
            rows.append({"stage": STAGE, "method": "fpr", "metric": metric, "value": float(np.mean(values)),
                         "split": SPLIT, "detail": detail})
    return rows


def _chance(num_relevant: np.ndarray, gallery_size: int) -> float:
    counted = num_relevant[num_relevant > 0]
    return float(np.mean([chance_average_precision(int(r), gallery_size) for r in counted])) if len(counted) else 0.0
