"""The personalized models of a dataset root, as the explainer reads them: for each model its
(base, personalized) pairs from `generations` (same prompt and seed), their pixels from the shards,
one encoder pass per picture (vision-language vector and identity-ranker features), image statistics
and, where the subject has reference pictures, identity scores; and the known truth of the models
that have one (`world_profiles` for the world's simulated models, `generate_truth` for the generate
stage's known-truth snapshots).

A pair whose base twin was never ingested, or whose bytes fail to decode, is a quarantine row; a model
left with fewer than `min_pairs` pairs is one too, and is not explained.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from persona_lens.storage import Catalog, DatasetRoot
from persona_lens.storage.shards import read_members
from persona_lens.tasks.finexl.attribution import PairInputs
from persona_lens.tasks.encoding import encode_pictures
from persona_lens.tasks.finexl.identity import fit_identity_scorer
from persona_lens.tasks.finexl.image_stats import image_statistics
from persona_lens.tasks.images import BadImage, decode_rgb
from persona_lens.tasks.quarantine import quarantine_row

STAGE = "explain"

_PAIRS_SQL = """
SELECT g.model_id, any_value(g.method) AS method, any_value(g.subject) AS subject, g.image_id,
       any_value(g.base_image_id) AS base_image_id, any_value(p.uri) AS uri, any_value(b.uri) AS base_uri
FROM generations g JOIN images p ON p.image_id = g.image_id
     LEFT JOIN images b ON b.image_id = g.base_image_id
WHERE g.method <> 'base' {models}
GROUP BY g.model_id, g.image_id ORDER BY g.model_id, g.image_id
"""

_REFERENCES_SQL = """
SELECT image_id, any_value(instance) AS instance, any_value(uri) AS uri FROM images
WHERE role = 'reference' AND instance IS NOT NULL GROUP BY image_id ORDER BY instance, image_id
"""


@dataclass
class GeneratedModel:
    """One personalized model of the root: its pairs (row i = pair i) and what is known of them."""

    model_id: str
    method: str
    subject: str | None
    image_ids: list[str]                 # personalized pictures
    base_image_ids: list[str]            # their base twins
    inputs: PairInputs


@dataclass
class RootModels:
    models: list[GeneratedModel]
    quarantine: list[dict]


def _decode(data: dict[str, bytes], uri: str) -> tuple[object | None, str | None]:
    try:
        return decode_rgb(data[uri]), None
    except BadImage as exc:
        return None, f"{exc.reason}: {exc.detail}"
    except KeyError:
        return None, "missing_bytes: the shard holds no member for this uri"


def load_generated_models(root: DatasetRoot, encoder, min_pairs: int = 2,
                          model_ids: list[str] | None = None) -> RootModels:
    """Every personalized model of `root` (or those of `model_ids`) with its encoded pairs."""
    with Catalog(root) as catalog:
        if "generations" not in catalog.tables or "images" not in catalog.tables:
            return RootModels([], [])
        where = "AND g.model_id IN (SELECT unnest(?::VARCHAR[]))" if model_ids else ""
        rows = catalog.query(_PAIRS_SQL.format(models=where), [model_ids] if model_ids else None).to_pylist()
        refs = catalog.query(_REFERENCES_SQL).to_pylist()
    quarantine: list[dict] = []
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["base_image_id"] is None or r["base_uri"] is None:
            quarantine.append(quarantine_row(STAGE, r["image_id"], "missing_base_twin",
                                             f"model {r['model_id']!r}: the base model's output for the same "
                                             f"prompt and seed ({r['base_image_id']}) is not in `images`"))
            continue
        by_model[r["model_id"]].append(r)
    uris = {u for rs in by_model.values() for r in rs for u in (r["uri"], r["base_uri"])} | {r["uri"] for r in refs}
    data = read_members(root, sorted(uris)) if uris else {}

    pictures, kept = [], {}
    for model_id, rs in by_model.items():
        good = []
        for r in rs:
            (p, perr), (b, berr) = _decode(data, r["uri"]), _decode(data, r["base_uri"])
            if perr or berr:
                quarantine.append(quarantine_row(STAGE, r["image_id"], "undecodable_image",
                                                 f"model {model_id!r}: {perr or berr}"))
                continue
            good.append((r, b, p))
        if len(good) < min_pairs:
            quarantine.append(quarantine_row(STAGE, model_id, "too_few_pairs",
                                             f"{len(good)} usable (base, personalized) pair(s); at least "
                                             f"{min_pairs} needed to explain a model"))
            continue
        kept[model_id] = good
        pictures += [img for _, b, p in good for img in (b, p)]
    ref_images, ref_labels = [], []
    for r in refs:
        img, err = _decode(data, r["uri"])
        if img is not None:
            ref_images.append(img)
            ref_labels.append(r["instance"])
    if not kept:
        return RootModels([], quarantine)

    vectors, features = encode_pictures(encoder, pictures)
    stats = image_statistics(pictures)
    _, ref_features = encode_pictures(encoder, ref_images) if ref_images else (None, None)
    scorer = fit_identity_scorer(ref_features, np.array(ref_labels)) if ref_images else None
    models, at = [], 0
    for model_id, good in kept.items():
        n = len(good)
        base_rows, pers_rows = np.arange(at, at + 2 * n, 2), np.arange(at + 1, at + 2 * n, 2)
        at += 2 * n
        subject = good[0][0]["subject"]
        id_base = id_pers = None
        if scorer is not None and subject is not None:
            subjects = np.full(n, subject, dtype=object)
            id_base, id_pers = scorer.scores(features[base_rows], subjects), scorer.scores(features[pers_rows], subjects)
        inputs = PairInputs(vectors[base_rows], vectors[pers_rows], stats[base_rows], stats[pers_rows],
                            id_base, id_pers)
        models.append(GeneratedModel(model_id, good[0][0]["method"], subject, [r["image_id"] for r, _, _ in good],
                                     [r["base_image_id"] for r, _, _ in good], inputs))
    return RootModels(models, quarantine)


_TRUTH_SQL = """
SELECT model_id, aspect, any_value(concept) AS concept, any_value(intensity) AS intensity FROM {table}
WHERE model_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY model_id, aspect
"""


#: Where a model's known truth comes from: the world's simulated models, or the generate stage's
#: known-truth snapshots of a real generator trained on concept-shifted references.
TRUTH_TABLES = {"world_profiles": "world", "generate_truth": "generated"}


def load_truth(root: DatasetRoot, model_ids: list[str], aspects: list[str]) -> dict[str, dict]:
    """Known truth of the models that have one: model_id -> aspect -> (concept or None, intensity);
    `truth_sources` says which table each came from."""
    out: dict[str, dict] = {}
    with Catalog(root) as catalog:
        for table in TRUTH_TABLES:
            if table not in catalog.tables:
                continue
            for r in catalog.query(_TRUTH_SQL.format(table=table), [model_ids]).to_pylist():
                truth = out.setdefault(r["model_id"], {a: (None, 0.0) for a in aspects})
                if r["aspect"] in truth:
                    truth[r["aspect"]] = (r["concept"] if r["intensity"] > 0 else None, float(r["intensity"]))
    return out


def truth_sources(root: DatasetRoot, model_ids: list[str]) -> dict[str, str]:
    """model_id -> "world" or "generated" for the models with a known truth."""
    out: dict[str, str] = {}
    with Catalog(root) as catalog:
        for table, source in TRUTH_TABLES.items():
            if table in catalog.tables:
                sql = f"SELECT DISTINCT model_id FROM {table} WHERE model_id IN (SELECT unnest(?::VARCHAR[]))"
                out.update({m: source for m in catalog.query(sql, [model_ids]).column(0).to_pylist()})
    return out
