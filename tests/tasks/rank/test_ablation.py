"""Gallery ablation: FPR against random galleries of a given make-up (identities × pictures each)."""

import numpy as np
import pytest

from persona_lens.tasks.rank.ablation import SPLIT, draw_gallery, gallery_ablation_rows
from persona_lens.tasks.rank.labelled import Labelled, Queries
from persona_lens.tasks.rank.metrics import summarize
from persona_lens.tasks.rank.ranker import IdentityRanker
from persona_lens.tasks.rank.ranking import RankData, rank_vectors


def test_a_drawn_gallery_has_that_many_identities_and_pictures_each():
    instances = np.repeat(np.array([f"i{k}" for k in range(10)], dtype=object), [6] * 9 + [2])
    rows = draw_gallery(instances, 4, 3, np.random.default_rng(0))
    names, counts = np.unique(instances[rows], return_counts=True)
    assert len(names) == 4 and set(counts) <= {2, 3} and list(rows) == sorted(rows)
    assert len(draw_gallery(instances, 99, None, np.random.default_rng(0))) == len(instances)   # all of it


def _data(rng):
    """12 individuals in 3 look-alike groups, 5 gallery pictures and 2 references each, 2 generated
    pictures per individual (nearer or farther from its centre) with base twins."""
    ids = np.array([f"i{k}" for k in range(12)], dtype=object)
    centre = {i: rng.normal(size=16) for i in ids}
    group = {i: f"g{k // 4}" for k, i in enumerate(ids)}

    def labelled(names, prefix):
        names = np.asarray(names, dtype=object)
        return Labelled(np.array([f"{prefix}{j}" for j in range(len(names))], dtype=object),
                        {"category": np.array(["c"] * len(names), dtype=object),
                         "subclass": np.array([group[n] for n in names], dtype=object), "instance": names})

    def near(names, noise):
        v = np.stack([centre[n] + noise * rng.normal(size=16) for n in names]).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    gallery_names, ref_names = np.repeat(ids, 5), np.repeat(ids, 2)
    subjects = np.concatenate([np.repeat(ids, 2), np.repeat(ids, 2)])
    kinds = np.array(["personalized"] * 24 + ["base"] * 24, dtype=object)
    base = labelled(subjects, "q")
    queries = Queries(base.image_ids, base.labels, np.array(["m"] * 24 + ["base"] * 24, dtype=object), subjects,
                      kinds, np.array([None] * 48, dtype=object))
    return RankData(labelled(gallery_names, "g"), near(gallery_names, 0.6), queries,
                    np.vstack([near(subjects[:24], 1.2), near(subjects[24:], 3.0)]),
                    labelled(ref_names, "r"), near(ref_names, 0.6), {})


@pytest.fixture(scope="module")
def ablation():
    data = _data(np.random.default_rng(1))
    rows = gallery_ablation_rows(data, IdentityRanker(None), ((3, 2), (12, None)), repeats=4, seed=0)
    return data, {(r["metric"], r["detail"]): r["value"] for r in rows if r["split"] == SPLIT}


def test_the_whole_gallery_setting_reproduces_the_stages_own_scores(ablation):
    data, value = ablation
    mask = data.queries.kinds == "personalized"
    full = rank_vectors(data.query_vectors[mask], {g: v[mask] for g, v in data.queries.labels.items()},
                        data.gallery_vectors, data.gallery.labels, (1,))
    assert value[("generated_mAP", "identities=12 per_identity=all granularity=instance")] == pytest.approx(
        summarize(full["instance"])["mAP"], rel=1e-6)
    assert value[("gallery_size", "identities=12 per_identity=all granularity=instance")] == 60


def test_a_smaller_gallery_flatters_mAP_and_chance_while_preservation_stays_comparable(ablation):
    _, value = ablation
    small, whole = "identities=3 per_identity=2", "identities=12 per_identity=all"
    for metric in ("generated_mAP", "real_mAP", "chance_mAP"):
        assert value[(metric, f"{small} granularity=instance")] > value[(metric, f"{whole} granularity=instance")]
    # Generated pictures are noisier than the real ones: preservation below 1 in both settings.
    for setting in (small, whole):
        p = value[("preservation", f"{setting} granularity=instance")]
        assert 0 < p < 1
    # Within the look-alike group the gallery is cut further: never below the whole-gallery instance mAP.
    assert value[("generated_mAP", f"{whole} granularity=instance_in_group")] >= \
        value[("generated_mAP", f"{whole} granularity=instance")]


def test_ablation_settings_are_checked():
    from persona_lens.tasks.rank.params import RankParams

    assert RankParams(ablation=[[10, 5], [40, None]]).ablation == ((10, 5), (40, None))
    with pytest.raises(ValueError, match="identities >= 1"):
        RankParams(ablation=[[0, 5]])
