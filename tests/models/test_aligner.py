"""The LiT aligner: corpus, loss, training, save/load, evaluation, the committed weights, the registry.

A tiny configuration (a few dozen edited photos and world pictures, eager image tower, tens of steps)
runs the whole load/train/evaluate path in seconds; the committed default weights are checked on
freshly rendered edits of photos they never saw.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_lens.models.aligner import (
    ALIGNER_NAME, DEFAULT_WEIGHTS, AlignerConfig, LiTAligner, ProjectionHeads, load_aligner, read_metadata,
    save_aligner,
)
from persona_lens.models.base import ModelError, VisionLanguageEncoder
from persona_lens.models.registry import aligner_from_heads, load_image_encoder, load_text_encoder, load_vl_encoder
from persona_lens.schemas import get_schema
from persona_lens.tasks.aligner.corpus import (
    MIN_VISIBLE, UNEDITED_CAPTION, content_key, draw_edits, packaged_photos, photo_samples,
    photo_zero_shot_samples,
    split_photos, visible_change,
)
from persona_lens.tasks.aligner.dataset import CorpusSpec, build_corpus, encode_pairs
from persona_lens.tasks.aligner.evaluate import accuracy_by_aspect, concept_text_vectors, recall_at_k
from persona_lens.tasks.aligner.scoring import eval_table, evaluate_aligner, evaluate_heldout
from persona_lens.tasks.aligner.train import (TrainSpec, multi_positive_infonce, train_heads, train_on_corpus,
                                              training_metadata)
from persona_lens.tasks.aligner.world_source import make_sources
from persona_lens.world.taxonomy import load_taxonomy
from tests.models.test_hf_vision import clip_dir, dinov2_dir  # noqa: F401  (fixtures: tiny random models)

TINY = CorpusSpec(seed=0, photo_train=48, heldout_photos=2, photo_zero_shot_views=1, photo_retrieval=12,
                  world_size="small", world_train=24, world_zero_shot=22, world_retrieval=12)
TINY_TRAIN = TrainSpec(seed=0, steps=15, batch_size=16, log_every=5)
TINY_CONFIG = AlignerConfig(dim=32, hidden=16)


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def corpus(taxonomy, onnx_cache_dir):
    """The tiny corpus, encoded by the eager multi-level tower (no ONNX export in the default suite)."""
    return build_corpus(make_sources(TINY, taxonomy),
                        load_image_encoder(TINY_CONFIG.image_tower, runtime="torch"), batch_size=32)


@pytest.fixture(scope="module")
def trained(corpus):
    return train_on_corpus(corpus, load_text_encoder(), TINY_CONFIG, TINY_TRAIN)


# --- corpus ---------------------------------------------------------------------------------------------

def test_photo_samples_are_reproducible_from_the_seed_and_differ_across_seeds(taxonomy):
    photos = packaged_photos()[:4]
    a = [(s, np.asarray(im)) for s, im in photo_samples(photos, 6, "train", 3, taxonomy)]
    b = [(s, np.asarray(im)) for s, im in photo_samples(photos, 6, "train", 3, taxonomy)]
    c = [np.asarray(im) for _, im in photo_samples(photos, 6, "train", 4, taxonomy)]
    assert [s for s, _ in a] == [s for s, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert not all(np.array_equal(x, y) for (_, x), y in zip(a, c))


def test_held_out_views_do_not_depend_on_where_the_photos_are_installed(taxonomy, tmp_path):
    import shutil

    from persona_lens.tasks.aligner.corpus import Photo

    photo = packaged_photos()[0]
    moved = Photo(photo.instance, tmp_path / photo.path.name, photo.category, photo.subclass)
    shutil.copy(photo.path, moved.path)
    here = [np.asarray(im) for _, im in photo_zero_shot_samples([photo], 1, 0, taxonomy)]
    there = [np.asarray(im) for _, im in photo_zero_shot_samples([moved], 1, 0, taxonomy)]
    assert len(here) == len(there) and all(np.array_equal(a, b) for a, b in zip(here, there))


def test_held_out_photos_are_whole_subjects_never_trained_on():
    photos = packaged_photos()
    train, heldout = split_photos(photos, 5, seed=0)
    assert len({p.instance for p in heldout}) == 5
    assert not {p.instance for p in train} & {p.instance for p in heldout}
    # Both motorcycle views are one subject: they land on the same side of the split.
    sides = {p.instance in {h.instance for h in heldout} for p in photos if p.instance == "motorcycle"}
    assert len(sides) == 1
    with pytest.raises(ValueError, match="heldout_photos must be in"):
        split_photos(photos, 0, seed=0)


def test_zero_shot_images_show_their_one_edit_and_captions_come_from_the_taxonomy(taxonomy):
    photos = packaged_photos()[:1]
    base = {}
    for sample, img in photo_zero_shot_samples(photos, 1, 0, taxonomy):
        (concept,) = sample.concepts
        assert sample.caption in taxonomy.captions(concept)
        assert sample.key == content_key([concept]) and 0.5 <= sample.intensities[0] <= 1.0
        base[concept.phrase] = img
    assert len(base) >= len(taxonomy.concepts(image_ops_only=True)) - 2   # a grey photo can't lose colour
    assert content_key([]) == "unedited" and UNEDITED_CAPTION


def test_an_invisible_edit_is_never_captioned(taxonomy):
    from PIL import Image

    grey = Image.new("RGB", (64, 64), (128, 128, 128))
    bw = taxonomy.concept("color", "black and white")
    img, concepts, _ = draw_edits(grey, 1, taxonomy, np.random.default_rng(0), (0.5, 1.0), only=bw)
    assert concepts == [] and visible_change(grey, img) < MIN_VISIBLE


# --- loss and training ---------------------------------------------------------------------------------

def test_multi_positive_infonce_is_clip_loss_when_every_key_differs_and_ignores_duplicates_as_negatives():
    torch.manual_seed(0)
    logits = torch.randn(6, 6)
    clip = 0.5 * (torch.nn.functional.cross_entropy(logits, torch.arange(6))
                  + torch.nn.functional.cross_entropy(logits.T, torch.arange(6)))
    assert torch.allclose(multi_positive_infonce(logits, torch.arange(6)), clip)
    # Pairs 0 and 1 share a key. When image 0 scores captions 0 and 1 alike, plain InfoNCE still
    # pushes caption 1 away from it (a false negative); the multi-positive loss is at rest there.
    keys = torch.tensor([0, 0, 1, 2])
    tied = torch.full((4, 4), -5.0)
    tied[:2, :2] = 5.0
    tied[2, 2] = tied[3, 3] = 5.0
    tied.requires_grad_(True)
    multi_positive_infonce(tied, keys).backward()
    at_rest = tied.grad[0, 1].item()
    tied.grad = None
    plain = 0.5 * (torch.nn.functional.cross_entropy(tied, torch.arange(4))
                   + torch.nn.functional.cross_entropy(tied.T, torch.arange(4)))
    plain.backward()
    assert abs(at_rest) < 1e-3 < tied.grad[0, 1].item()


def test_same_seed_gives_identical_weights_and_another_seed_does_not(corpus):
    text = load_text_encoder()
    a = train_on_corpus(corpus, text, TINY_CONFIG, TINY_TRAIN).heads.state_dict()
    b = train_on_corpus(corpus, text, TINY_CONFIG, TINY_TRAIN).heads.state_dict()
    other_seed = TrainSpec(**{**vars(TINY_TRAIN), "seed": 1})
    c = train_on_corpus(corpus, text, TINY_CONFIG, other_seed).heads.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if k.endswith("weight"))


def test_training_lowers_the_loss_and_never_sees_held_out_samples(corpus, trained):
    assert trained.loss_curve[-1][1] < trained.loss_curve[0][1]
    assert [s for s, _ in trained.loss_curve] == [5, 10, 15]
    train = [s for s in corpus.samples if s.purpose == "train"]
    heldout_subjects = {s.subject for s in corpus.samples if s.heldout}
    assert train and not heldout_subjects & {s.subject for s in train}


def test_bad_training_input_is_refused_naming_it():
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        TrainSpec(batch_size=1)
    cfg = AlignerConfig(image_dim=4, text_dim=3, dim=2, hidden=0)
    with pytest.raises(ValueError, match="batch_size 8 exceeds the 3 training pairs"):
        train_heads(np.zeros((3, 4)), np.zeros((1, 3)), np.zeros(3, int), ["a"] * 3, cfg,
                    TrainSpec(batch_size=8))
    with pytest.raises(ModelError, match="hidden must be a non-negative integer"):
        AlignerConfig(hidden=-1)


# --- save / load -----------------------------------------------------------------------------------------

def test_saved_aligner_reloads_to_identical_outputs_with_its_training_description(tmp_path, corpus, trained,
                                                                                  taxonomy):
    path = save_aligner(trained.heads, tmp_path / "lit.safetensors",
                        training_metadata(corpus, trained, TINY, taxonomy))
    assert list(tmp_path.iterdir()) == [path]                           # no temporary file left behind
    original, loaded = aligner_from_heads(trained.heads, "mem"), load_vl_encoder(str(path), runtime="torch")
    features = corpus.image_features[:7]
    assert np.array_equal(original.embed_image_features(features), loaded.embed_image_features(features))
    texts = ["a pencil sketch", "an image with warm orange tones"]
    assert np.array_equal(original.encode_texts(texts), loaded.encode_texts(texts))
    config, training = read_metadata(path)
    assert config == TINY_CONFIG
    assert (training["seed"], training["steps"], training["taxonomy_digest"]) == (0, 15, taxonomy.digest)
    assert training["data"]["images"]["photo/train"] == 48
    # Images through the towers land where their cached features do.
    sample_img = next(make_sources(TINY, taxonomy)[0].train())[1]
    np.testing.assert_allclose(loaded.encode_images([sample_img]), loaded.embed_image_features(
        corpus.image_features[:1]), atol=1e-5)


def test_an_aligner_without_its_towers_projects_features_but_says_how_to_encode_images(trained, corpus):
    heads_only = LiTAligner(trained.heads, "heads-only")
    assert heads_only.embed_image_features(corpus.image_features[:2]).shape == (2, TINY_CONFIG.dim)
    with pytest.raises(ModelError, match="load it with persona_lens.models.registry.load_vl_encoder"):
        heads_only.encode_texts(["a pencil sketch"])


def test_a_file_that_is_not_an_aligner_is_refused(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(ModelError, match="not found"):
        load_aligner(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ModelError, match="is not a safetensors file"):
        load_aligner(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"),
              metadata={"format": "something-else"})
    with pytest.raises(ModelError, match="is not a persona-lens-lit/1 aligner file"):
        load_aligner(tmp_path / "other.safetensors")


def test_weights_that_do_not_fit_their_configuration_are_refused(tmp_path):
    heads = ProjectionHeads(AlignerConfig(image_dim=6, text_dim=5, dim=4, hidden=0))
    path = save_aligner(heads, tmp_path / "a.safetensors", {})
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    tensors["image.net.0.weight"] = torch.zeros(4, 7)
    config = '{"image_dim": 6, "text_dim": 5, "dim": 4, "hidden": 0}'
    save_file(tensors, str(path), metadata={"format": "persona-lens-lit/1", "config": config})
    with pytest.raises(ModelError, match="do not fit their configuration"):
        load_aligner(path)


# --- evaluation ------------------------------------------------------------------------------------------

def test_recall_at_k_counts_any_image_with_the_query_key_and_knows_chance():
    scores = np.array([[0.9, 0.1, 0.5], [0.9, 0.2, 0.1]])
    got = recall_at_k(scores, ["a", "b"], ["a", "b", "a"], ks=(1, 2))
    assert got[1] == (0.5, pytest.approx((2 / 3 + 1 / 3) / 2))
    assert got[2][0] == 1.0 and got[2][1] == pytest.approx((1.0 + 2 / 3) / 2)  # b is 2nd for query b
    with pytest.raises(ValueError, match="at least one gallery image"):
        recall_at_k(scores, ["a", "z"], ["a", "b", "a"])


def test_accuracy_by_aspect_picks_among_the_aspects_concepts_only(taxonomy, corpus):
    samples = [s for s in corpus.samples if s.source == "photo" and s.purpose == "zero_shot"]
    concepts = taxonomy.concepts()
    perfect = np.array([[1.0 if c in s.concepts else 0.0 for c in concepts] for s in samples])
    result = accuracy_by_aspect(perfect, samples, concepts, taxonomy.names)
    assert set(result) == {"style", "color", "texture", "composition", "lighting"}
    assert all(acc == 1.0 for acc, _, _ in result.values())
    assert result["style"][2] == pytest.approx(1 / len(taxonomy.aspects["style"].concepts))


def test_evaluation_rows_validate_and_cover_both_methods_and_both_held_out_sets(corpus, trained, taxonomy):
    rows = evaluate_aligner(aligner_from_heads(trained.heads, "tiny"), corpus, taxonomy, seed=0)
    table = eval_table(rows)
    assert table.schema.equals(get_schema("eval_aligner").arrow(), check_metadata=False)
    got = {(r["method"], r["metric"], r["split"], r["detail"]) for r in rows}
    for method in ("lit", "linear_probe", "chance"):
        for split in ("heldout_photos", "heldout_world"):
            assert (method, "accuracy", split, "color") in got
            assert (method, "recall@5", split, "text_to_image") in got
    assert ("lit", "accuracy", "heldout_world", "background") in got
    assert ("lit", "accuracy", "heldout_photos", "background") not in got       # photos have none
    assert all(0.0 <= r["value"] <= 1.0 for r in rows if r["method"] != "data")


# --- the committed default weights ----------------------------------------------------------------------

def test_committed_weights_classify_edits_of_photos_they_never_saw_well_above_chance(taxonomy,
                                                                                     onnx_cache_dir):
    aligner = load_vl_encoder(ALIGNER_NAME, runtime="torch")
    assert isinstance(aligner, VisionLanguageEncoder) and aligner.name == ALIGNER_NAME
    config, training = read_metadata(DEFAULT_WEIGHTS)
    assert training["taxonomy_digest"] == taxonomy.digest, "retrain: the taxonomy changed since training"
    heldout = set(training["data"]["sources"]["photo"]["heldout_subjects"])
    photos = [p for p in packaged_photos() if p.instance in heldout]
    assert photos and not heldout & set(training["data"]["sources"]["photo"]["train_subjects"])
    # Fresh views (another seed) of the held-out photos, every edit concept once per view.
    samples, vectors = encode_pairs(photo_zero_shot_samples(photos, 1, 12345, taxonomy), aligner, 32)
    concepts = taxonomy.concepts()
    scores = vectors @ concept_text_vectors(aligner, taxonomy, concepts).T
    result = accuracy_by_aspect(scores, samples, concepts, ["color", "lighting", "style", "texture"])
    for aspect, (acc, n, chance) in result.items():
        assert acc >= chance + 0.3, f"{aspect}: accuracy {acc:.2f} on {n} images, chance {chance:.2f}"


# --- the registry ----------------------------------------------------------------------------------------

def test_tiny_random_clip_folder_is_a_vision_language_encoder_and_scores_through_the_same_path(
        clip_dir, taxonomy):  # noqa: F811
    encoder = load_vl_encoder(str(clip_dir))
    assert isinstance(encoder, VisionLanguageEncoder)
    assert load_vl_encoder(str(clip_dir)) is encoder
    spec = CorpusSpec(seed=0, photo_train=0, heldout_photos=1, photo_zero_shot_views=1, photo_retrieval=6,
                      world_size=None)
    rows = evaluate_heldout(encoder, make_sources(spec, taxonomy), taxonomy, method="tiny-clip")
    assert eval_table(rows).num_rows == len(rows)
    assert {r["method"] for r in rows} == {"tiny-clip", "chance", "data"}
    texts = encoder.encode_texts(["a photo of a cat", "a red square"])
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert texts.shape == (2, encoder.dim)


def test_load_vl_encoder_refuses_unknown_names_vision_only_folders_and_foreign_files(
        dinov2_dir, tmp_path):  # noqa: F811
    with pytest.raises(ModelError, match=r"unknown vision-language encoder 'clip-9000'.*persona-lens-lit"):
        load_vl_encoder("clip-9000")
    with pytest.raises(ModelError, match="without a text tower"):
        load_vl_encoder(str(dinov2_dir))
    (tmp_path / "notes.txt").write_text("no model")
    with pytest.raises(ModelError, match="has no config.json"):
        load_vl_encoder(str(tmp_path))
    with pytest.raises(ModelError, match="must be a name or a path"):
        load_vl_encoder("  ")


def test_multilevel_tower_ends_with_the_plain_efficientnet_vector(onnx_cache_dir):
    from persona_lens.models.efficientnet import preprocess
    from persona_lens.models.multilevel import DIM
    from persona_lens.tasks.aligner.corpus import _load_photo

    images = [_load_photo(p.path) for p in packaged_photos()[:2]]
    multi = load_image_encoder("efficientnet-lite0-multilevel", runtime="torch")
    plain = load_image_encoder("efficientnet-lite0", runtime="torch")
    raw = multi.backend(preprocess(images))
    assert multi.dim == DIM == raw.shape[1]
    head = raw[:, -1280:] / np.linalg.norm(raw[:, -1280:], axis=1, keepdims=True)
    np.testing.assert_allclose(head, plain.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(multi.encode_images(images), axis=1), 1.0, atol=1e-5)
