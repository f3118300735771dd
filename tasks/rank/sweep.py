"""The drift sweep: does an identity score fall as a subject's identity is taken away, step by step,
while a style change leaves it be? (The claim of Finer-Personalization Rank, measured.)

For each sweep model (world/sweeps.py: subjects × drift modes × levels × other shift) its pictures are
queries against the world's identity-labelled gallery. Scores per query, as the rank stage computes
them: `fpr` the instance-level AP in the identity ranker's space (shrinkage LDA fitted on the gallery,
optionally with image-operation copies: tasks/rank/augment.py), `clip_i` and `dino` the mean cosine to
the subject's reference pictures under the vision-language encoder and the plain image encoder. Per
model the mean; per subject, mode and other shift the Spearman of that mean with the true fidelity
(1 − level) across levels; averaged over subjects with a bootstrap interval over subjects. And the
*costs*: how much a score loses to the other shift alone versus to full drift (their ratio: an
identity score should lose far less to style than to drift; a semantic score the opposite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import spearmanr

from persona_lens.tasks.rank.augment import augmented_pictures
from persona_lens.tasks.rank.ranker import fit_identity_ranker
from persona_lens.tasks.rank.ranking import rank_vectors
from persona_lens.world.sweeps import SweepModel

if TYPE_CHECKING:
    from PIL import Image

STAGE = "rank"
SPLIT = "drift_sweep"
METHODS = ("fpr", "clip_i", "dino")


@dataclass(frozen=True)
class SweepScores:
    """Per sweep model (same order as the models) the mean of each score over its pictures."""

    models: list[SweepModel]
    scores: dict[str, np.ndarray]          # method → (models,)


def score_sweep(models: list[SweepModel], queries: dict[str, np.ndarray], owner: np.ndarray,
                gallery: dict[str, np.ndarray], gallery_labels: np.ndarray, references: dict[str, np.ndarray],
                reference_labels: np.ndarray, ranker_fit: tuple[np.ndarray, np.ndarray] | None = None,
                shrinkage: float = 0.3) -> SweepScores:
    """Score every query picture and average per model.

    `queries`/`gallery`/`references`: "features" (the ranker's input), "vl" (CLIP-I) and "image"
    (DINO-style) vectors, L2-normalised where they are cosines. `owner`: each query's model index.
    `ranker_fit`: (features, labels) the ranker is fitted on (default: the gallery's own).
    """
    fit_x, fit_y = ranker_fit if ranker_fit is not None else (gallery["features"], gallery_labels)
    ranker = fit_identity_ranker(fit_x, fit_y, shrinkage=shrinkage)
    subjects = np.array([models[i].profile.subject.instance for i in owner])
    ap = rank_vectors(ranker.project(queries["features"]), {"instance": subjects},
                      ranker.project(gallery["features"]), {"instance": gallery_labels}, ks=(1,))["instance"].average_precision
    per_query = {"fpr": ap}
    for method, key in (("clip_i", "vl"), ("dino", "image")):
        sims = queries[key] @ references[key].T
        own = reference_labels[None, :] == subjects[:, None]
        per_query[method] = (sims * own).sum(axis=1) / np.maximum(own.sum(axis=1), 1)
    means = {m: np.array([v[owner == i].mean() for i in range(len(models))]) for m, v in per_query.items()}
    return SweepScores(models, means)


def _groups(models: list[SweepModel]) -> dict[tuple[str, str, str], list[int]]:
    """(subject, mode, other: none|shifted) → model indices, by level."""
    out: dict[tuple[str, str, str], list[int]] = {}
    for i, m in enumerate(models):
        out.setdefault((m.profile.subject.instance, m.mode, "none" if m.other is None else "shifted"), []).append(i)
    return {k: sorted(v, key=lambda i: models[i].level) for k, v in out.items()}


def _bootstrap(values: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = [np.mean(values[rng.integers(0, len(values), len(values))]) for _ in range(resamples)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _row(method: str, metric: str, value: float, detail: str) -> dict:
    return {"stage": STAGE, "method": method, "metric": metric, "value": float(value), "split": SPLIT,
            "detail": detail}


def sweep_rows(result: SweepScores, resamples: int = 1000, seed: int = 0) -> list[dict]:
    """`eval_rank` rows of split `drift_sweep` (see the module's docstring)."""
    models, groups = result.models, _groups(result.models)
    modes = sorted({m.mode for m in models})
    rows = []
    for method, score in result.scores.items():
        spearman = []
        for mode in [*modes, "all"]:
            for other in ("none", "shifted"):
                rhos = []
                for (subject, m, o), idx in groups.items():
                    if (mode == "all" or m == mode) and o == other:
                        fid, val = [models[i].fidelity for i in idx], score[idx]
                        # A constant score carries no ranking: it counts as 0 (no evidence), not as missing.
                        rhos.append(0.0 if np.ptp(val) == 0 else spearmanr(val, fid).statistic)
                if not rhos:
                    continue
                rhos = np.array(rhos)
                lo, hi = _bootstrap(rhos, resamples, seed)
                detail = f"mode={mode}, other={other}, subjects={len({s for s, m, o in groups if m == mode or mode == 'all'})}"
                spearman += [_row(method, "within_subject_spearman", rhos.mean(), detail),
                             _row(method, "within_subject_spearman_ci_low", lo, detail),
                             _row(method, "within_subject_spearman_ci_high", hi, detail)]
        rows += spearman
        for mode in modes:
            for level in sorted({m.level for m in models}):
                for other in ("none", "shifted"):
                    idx = [i for i, m in enumerate(models) if m.mode == mode and m.level == level
                           and ("none" if m.other is None else "shifted") == other]
                    rows.append(_row(method, "mean_score", score[idx].mean(),
                                     f"mode={mode}, level={level:.2f}, other={other}"))
        rows += _cost_rows(method, score, groups, models)
    # A score that ignores identity has an expected within-subject Spearman of 0.
    rows += [_row("chance", "within_subject_spearman", 0.0, r["detail"]) for r in spearman
             if r["metric"] == "within_subject_spearman"]
    return rows


def _cost_rows(method: str, score: np.ndarray, groups, models: list[SweepModel]) -> list[dict]:
    """Per subject: the loss to the other shift alone (level 0) and to full drift (the top level, no
    other shift), averaged; and their ratio (other shift cost / drift cost)."""
    other_cost, drift_cost = [], []
    for (subject, mode, other), idx in groups.items():
        if other != "none":
            continue
        shifted = groups.get((subject, mode, "shifted"))
        clean0, clean1 = score[idx[0]], score[idx[-1]]
        if shifted is not None and models[idx[0]].level == 0.0:
            other_cost.append(clean0 - score[shifted[0]])
            drift_cost.append(clean0 - clean1)
    if not other_cost:
        return []
    oc, dc = float(np.mean(other_cost)), float(np.mean(drift_cost))
    detail = f"subject-modes={len(other_cost)}"
    rows = [_row(method, "other_shift_cost", oc, detail), _row(method, "drift_cost", dc, detail)]
    if dc > 0:
        rows.append(_row(method, "other_to_drift_cost_ratio", oc / dc, detail))
    return rows


def _draw(job) -> "Image.Image":
    generator, seed, prompt = job
    return generator.draw([seed], [prompt])[0]


def _identity_picture(job) -> "Image.Image":
    from persona_lens.world.identities import render_individual

    spec, individual, role, k = job
    return render_individual(spec, individual, role, k)[0]


def run_drift_sweep(size: str = "small", seed: int = 0, subjects: int = 4,
                    levels: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0), prompts: int | None = None,
                    augment: int = 0, shrinkage: float = 0.3, vl_encoder: str = "persona-lens-lit",
                    image_encoder: str = "efficientnet-lite0", workers: int = 1) -> SweepScores:
    """Render a sweep of the world preset `size` with `seed`, encode it and score it (`sweep_rows`
    turns the result into `eval_rank` rows). `prompts`: pictures per model (None: the preset's
    prompts per profile). `augment`: image-operation copies of every gallery picture in the ranker's fit.

    The ranker's features are the vision-language encoder's image-tower features (the LiT aligner's
    multi-level EfficientNet vector, the rank stage's default ranker input), taken in the same pass.
    """
    from persona_lens.models.registry import load_image_encoder, load_vl_encoder
    from persona_lens.tasks.encoding import encode_pictures
    from persona_lens.world.generators import SimulatedGenerator, background_phrases
    from persona_lens.world.identities import build_identities, parallel_map
    from persona_lens.world.spec import world_spec
    from persona_lens.world.sweeps import drift_sweep

    spec = world_spec(size, seed)
    tree = build_identities(spec)
    models = drift_sweep(spec, subjects, tuple(levels), tree=tree)
    phrases = background_phrases()
    jobs, owner = [], []
    for i, m in enumerate(models):
        generator = SimulatedGenerator(spec, m.profile, True, tree, phrases)
        for p in m.profile.prompts[:prompts]:
            jobs.append((generator, p.seed, p.text))
            owner.append(i)
    pictures = parallel_map(_draw, jobs, workers)
    identity_jobs = {role: [(spec, ind, role, k) for ind in tree.individuals for k in range(n)]
                     for role, n in (("gallery", spec.gallery_per_instance), ("reference", spec.reference_per_instance))}
    identity = {role: parallel_map(_identity_picture, j, workers) for role, j in identity_jobs.items()}
    labels = {role: np.array([ind.instance for _, ind, _, _ in j]) for role, j in identity_jobs.items()}
    vl, dino = load_vl_encoder(vl_encoder), load_image_encoder(image_encoder)

    def encode(images) -> dict[str, np.ndarray]:
        vectors, features = encode_pictures(vl, images)
        return {"vl": vectors, "features": features, "image": dino.encode_images(images)}

    gallery = encode(identity["gallery"])
    fit = None
    if augment:
        extra, extra_labels = augmented_pictures(identity["gallery"], labels["gallery"], augment, seed)
        fit = (np.vstack([gallery["features"], encode_pictures(vl, extra)[1]]),
               np.concatenate([labels["gallery"], extra_labels]))
    return score_sweep(models, encode(pictures), np.array(owner), gallery, labels["gallery"],
                       encode(identity["reference"]), labels["reference"], fit, shrinkage)


def sweep_markdown(table) -> str:
    """Within-subject Spearman per mode and other shift (rows) and score (columns), with its interval,
    and each score's other-shift-to-drift cost ratio."""
    from persona_lens.tasks.markdown import markdown_table

    rows = table.to_pylist()
    methods = sorted({r["method"] for r in rows} - {"chance"}, key=lambda m: METHODS.index(m) if m in METHODS else 99)
    value = {(r["method"], r["metric"], r["detail"]): r["value"] for r in rows}
    details = list(dict.fromkeys(r["detail"] for r in rows if r["metric"] == "within_subject_spearman"))
    body = []
    for d in details:
        cells = []
        for m in methods:
            v = value.get((m, "within_subject_spearman", d))
            lo, hi = value.get((m, "within_subject_spearman_ci_low", d)), value.get((m, "within_subject_spearman_ci_high", d))
            interval = "" if lo is None or hi is None else f" [{lo:.2f}, {hi:.2f}]"
            cells.append("" if v is None else f"{v:.2f}{interval}")
        body.append([d.rsplit(", subjects=", 1)[0], *cells])
    ratio = {r["method"]: r["value"] for r in rows if r["metric"] == "other_to_drift_cost_ratio"}
    body.append(["other-shift cost / drift cost", *[f"{ratio[m]:.2f}" if m in ratio else "" for m in methods]])
    return markdown_table(["within-subject Spearman with fidelity", *methods], body)
