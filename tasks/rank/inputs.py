"""What the rank stage reads from the tables: the gallery, the queries (generated images and their
paired base images, each claiming its subject's identity), vectors of any encoder, and for eval-rank
the world's known identity drift and the scores a rank run wrote."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from persona_lens.storage import Catalog, DatasetRoot
from persona_lens.tasks.rank.evaluate import IdentityTruth
from persona_lens.tasks.rank.labelled import Labelled, Queries
from persona_lens.tasks.rank.params import RankParams
from persona_lens.tasks.rank.ranker import RankError
from persona_lens.tasks.rank.ranking import RankData, check_inputs, subject_similarity

# The subject's labels come from its own reference/gallery pictures, so a generated image ingested
# without labels is still ranked for the identity its model was personalized on. A base image is the
# base model's answer to the same prompt and seed: it is ranked for the same subject, which the base
# model never saw (the natural "no personalization" reference point).
_QUERIES_SQL = """
WITH subject_labels AS (
    SELECT instance AS subject, any_value(category) AS category, any_value(subclass) AS subclass
    FROM images WHERE role IN ('reference', 'gallery') AND instance IS NOT NULL GROUP BY instance
), personalized AS (
    SELECT DISTINCT g.image_id, g.model_id, g.subject, g.base_image_id
    FROM generations g JOIN images i ON i.image_id = g.image_id
    WHERE g.method <> 'base' AND g.subject IS NOT NULL
      AND g.subject IN (SELECT instance FROM images WHERE role = 'gallery' AND instance IS NOT NULL)
)
SELECT p.image_id AS query_image_id, p.model_id, p.subject, 'personalized' AS kind,
       p.base_image_id AS paired_image_id,
       coalesce(s.category, i.category) AS category, coalesce(s.subclass, i.subclass) AS subclass,
       p.subject AS instance
FROM personalized p JOIN images i ON i.image_id = p.image_id LEFT JOIN subject_labels s ON s.subject = p.subject
UNION ALL
SELECT p.base_image_id, coalesce(b.model_id, 'base'), p.subject, 'base', p.image_id,
       coalesce(s.category, i.category), coalesce(s.subclass, i.subclass), p.subject
FROM personalized p JOIN images i ON i.image_id = p.image_id LEFT JOIN subject_labels s ON s.subject = p.subject
     LEFT JOIN (SELECT DISTINCT image_id, model_id FROM generations) b ON b.image_id = p.base_image_id
WHERE p.base_image_id IS NOT NULL AND EXISTS (SELECT 1 FROM images x WHERE x.image_id = p.base_image_id)
ORDER BY kind DESC, model_id, query_image_id
"""

# Sorted coarse to fine, so every label of the gallery is one run of rows and ranking needs no
# (query x gallery) relevance masks (ranking.label_runs); ties are still counted as scikit-learn does.
_ROLE_SQL = """
SELECT image_id, category, subclass, instance FROM images
WHERE role = ? AND instance IS NOT NULL ORDER BY category, subclass, instance, image_id
"""

_VECTORS_SQL = """
SELECT image_id, any_value(vector) AS vector FROM embeddings
WHERE encoder = ? AND image_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY image_id
"""


def load_gallery(catalog: Catalog, role: str = "gallery") -> Labelled:
    """Images of `role` that carry an instance label (the identity-labelled gallery, or the references)."""
    return Labelled.from_table(catalog.query(_ROLE_SQL, [role]))


def load_queries(catalog: Catalog) -> Queries:
    """Every personalized generation with a subject, and its base image when there is one."""
    return Queries.from_table(catalog.query(_QUERIES_SQL))


_COUNT_VECTORS_SQL = """
SELECT count(DISTINCT image_id) FROM embeddings
WHERE encoder = ? AND image_id IN (SELECT unnest(?::VARCHAR[]))
"""


def has_vectors(catalog: Catalog, encoder: str, image_ids: np.ndarray) -> bool:
    """Whether every one of `image_ids` has a vector of `encoder` (a semantic score's gallery may not)."""
    return catalog.scalar(_COUNT_VECTORS_SQL, [encoder, [str(i) for i in image_ids]]) == len(set(image_ids))


def load_vectors(catalog: Catalog, encoder: str, image_ids: np.ndarray) -> np.ndarray:
    """(n, d) float32 vectors of `encoder` for `image_ids`, in that order.

    Raises RankError naming the encoder and how many images lack a vector (embed them first).
    """
    table = catalog.query(_VECTORS_SQL, [encoder, [str(i) for i in image_ids]])
    index = {k: i for i, k in enumerate(table.column("image_id").to_pylist())}
    missing = [i for i in image_ids if i not in index]
    if missing:
        raise RankError(f"{len(missing)} of {len(image_ids)} images have no {encoder!r} embedding (e.g. "
                        f"{missing[0][:16]}…); run `persona-lens embed --encoder {encoder}` first")
    if not len(image_ids):
        return np.zeros((0, 0), dtype=np.float32)
    vectors = table.column("vector").combine_chunks()
    flat = np.asarray(vectors.flatten(), dtype=np.float32).reshape(len(vectors), -1)
    return flat[[index[i] for i in image_ids]]


def load_rank_data(root: DatasetRoot, params: RankParams) -> RankData:
    """The gallery, the queries, the references and their vectors; the semantic scores of the queries.

    Raises RankError without a gallery or queries, or when an encoder's vectors are missing.
    """
    with Catalog(root) as catalog:
        gallery, queries = load_gallery(catalog), load_queries(catalog)
        check_inputs(queries, gallery)
        references = load_gallery(catalog, "reference")
        # CLIP-I and DINO compare with the pictures the model was personalized on; a dataset without
        # reference images falls back to the subject's gallery pictures.
        compare = references if len(references) else gallery
        semantic, spaces = {}, {}
        for name, encoder in params.semantic.items():
            query_vectors = load_vectors(catalog, encoder, queries.image_ids)
            semantic[name] = subject_similarity(query_vectors, queries.subjects, compare,
                                                load_vectors(catalog, encoder, compare.image_ids))
            if has_vectors(catalog, encoder, gallery.image_ids):
                spaces[name] = (query_vectors, load_vectors(catalog, encoder, gallery.image_ids))
        data = RankData(gallery, load_vectors(catalog, params.encoder, gallery.image_ids), queries,
                        load_vectors(catalog, params.encoder, queries.image_ids), references,
                        load_vectors(catalog, params.encoder, references.image_ids), semantic, spaces)
        if params.augment and params.ranker == "lda":
            data.fit_vectors, data.fit_labels = augmented_gallery(root, catalog, gallery, params)
        return data


_URIS_SQL = """
SELECT image_id, any_value(uri) AS uri FROM images
WHERE image_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY image_id
"""


def augmented_gallery(root: DatasetRoot, catalog: Catalog, gallery: Labelled, params: RankParams
                      ) -> tuple[np.ndarray, np.ndarray]:
    """`params.augment` image-operation copies of every gallery picture (decoded from the shards),
    encoded with the ranker's encoder, and their instance labels: the ranker learns that style, colour
    and light vary *within* an individual (the drift sweep halved the cost of such a shift with them)."""
    from persona_lens.models.registry import load_image_encoder
    from persona_lens.storage import read_members
    from persona_lens.tasks.images import decode_rgb
    from persona_lens.tasks.rank.augment import augmented_pictures

    uris = dict(zip(*catalog.query(_URIS_SQL, [[str(i) for i in gallery.image_ids]]).to_pydict().values()))
    data = read_members(root, [uris[i] for i in gallery.image_ids])
    images = [decode_rgb(data[uris[i]]) for i in gallery.image_ids]
    extra, labels = augmented_pictures(images, gallery.labels["instance"], params.augment)
    return load_image_encoder(params.encoder).encode_images(extra), labels


_RANKED_SQL = """
SELECT count(*) FROM generations
WHERE method <> 'base' AND subject IN (SELECT instance FROM images WHERE role = 'gallery' AND instance IS NOT NULL)
"""


def has_rank_queries(root: DatasetRoot) -> bool:
    """Whether any personalized generation of a gallery individual exists (what the stage ranks: a
    subject without gallery images has no identity to retrieve)."""
    with Catalog(root) as catalog:
        return bool(catalog.scalar(_RANKED_SQL))


_TRUTH_SQL = """
SELECT model_id,
       max(CASE WHEN aspect = 'identity' THEN intensity ELSE 0 END) AS drift,
       count(*) FILTER (WHERE intensity > 0) AS shifted
FROM world_profiles GROUP BY model_id
"""


def load_identity_truth(root: DatasetRoot) -> IdentityTruth:
    """Known identity drift per simulated model (world_profiles). RankError when there is none."""
    with Catalog(root) as catalog:
        rows = catalog.query(_TRUTH_SQL).to_pylist()
    if not rows:
        raise RankError("no ground truth: world_profiles is empty (eval-rank scores the synthetic world's "
                        "simulated models; load a world with `persona-lens world load` first)")
    return IdentityTruth({r["model_id"]: float(r["drift"]) for r in rows},
                         {r["model_id"]: int(r["shifted"]) for r in rows})


def load_rank_scores(root: DatasetRoot, rank_run: str | None = None) -> pa.Table:
    """The `rank_scores` rows of the rank run `rank_run` (default: the latest). RankError when none."""
    with Catalog(root) as catalog:
        run = rank_run or catalog.scalar("SELECT max(run_id) FROM rank_scores")
        table = catalog.query("SELECT * EXCLUDE (run_id) FROM rank_scores WHERE run_id = ?", [run]) if run else None
    if table is None or not table.num_rows:
        raise RankError(f"no rank scores{f' for run {rank_run!r}' if rank_run else ''}: run the rank stage "
                        f"first (`persona-lens rank`)")
    return table
