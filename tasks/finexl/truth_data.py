"""Known-truth inputs for the evaluation: world profiles and edited real photos, rendered and encoded.

Each "model" is a list of (base, personalized) pairs with the truth of every aspect: the world's
profiles (world/profiles.py: same prompt and seed, known shifts and intensities) and, for real photos,
views of a packaged photo edited with world/effects at known intensities. Vectors are cached in an
.npz per (source, seed, encoder) under `cache`, so the slow part (rendering, the image tower) runs once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from persona_lens.tasks.encoding import encode_pictures
from persona_lens.tasks.finexl.identity import fit_identity_scorer
from persona_lens.tasks.finexl.image_stats import image_statistics
from persona_lens.tasks.rank.augment import augmented_pictures
from persona_lens.world.spec import rng_for, world_spec
from persona_lens.world.taxonomy import Taxonomy, load_taxonomy

#: Photos of the packaged pool that the aligner never trained on: its five held-out subjects
#: (docs/models/aligner.md, seed 0) plus three scikit-image files it never used at all.
HELDOUT_PHOTOS = ("brick.png", "clock_motion.png", "coins.png", "ihc.png", "motorcycle_left.png",
                  "motorcycle_right.png", "microaneurysms.png", "page.png", "text.png")
#: Bumped when what a cached world holds changes (id2: identity evidence is [score, margin] per picture;
#: id3: the ranker's raw features of every picture, reference, gallery and image-op copy are kept, so the
#: identity evidence is computed at load time and can be refitted without rendering again).
CACHE_VERSION = "id3"
#: Image-operation copies of each reference and gallery picture rendered into a cached world.
IDENTITY_COPIES = 2
#: Aspects an image operation realises (photo models can shift only these).
PHOTO_ASPECTS = ("style", "color", "texture", "composition", "lighting")


@dataclass
class ModelPairs:
    """One model to explain, with its truth: aspect -> (taxonomy concept phrase or None, intensity)."""

    model_id: str
    group: str                         # the split unit (world seed, photo pool)
    base: np.ndarray                   # (n, d) vision-language vectors
    personalized: np.ndarray
    base_stats: np.ndarray             # (n, S) image statistics
    personalized_stats: np.ndarray
    identity_base: np.ndarray | None   # (n, 2) identity evidence of each picture (identity.py: score, margin)
    identity_personalized: np.ndarray | None
    truth: dict[str, tuple[str | None, float]]


def _encode(encoder, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray | None]:
    """(vision-language vectors, identity features or None): identity only with the LiT aligner's tower
    (the cached evaluation worlds were made so)."""
    vectors, features = encode_pictures(encoder, images)
    return vectors, (features if hasattr(encoder, "image_tower") else None)


def _save(path: Path, arrays: dict, meta: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, meta=json.dumps(meta), **arrays)
    tmp.replace(path)


def cache_folder(cache: str | Path | None) -> Path:
    """Where rendered, encoded worlds are kept: `cache`, else `<cache dir>/finexl`."""
    from persona_lens.models.runtime import default_cache_dir

    return Path(cache).expanduser() if cache else default_cache_dir() / "finexl"


def worlds(size: str, seeds, encoder, cache: str | Path | None = None, workers: int = 1) -> list[ModelPairs]:
    """Every profile of the world preset `size` for each of `seeds`, in seed order."""
    return [m for s in seeds for m in world_models(size, s, encoder, cache_folder(cache), workers)]


def world_models(size: str, seed: int, encoder, cache: Path, workers: int = 1) -> list[ModelPairs]:
    """Every profile of the world preset `size` with `seed`: its pairs, truth and identity scores."""
    path = Path(cache) / f"world-{size}-seed{seed}-{_slug(encoder)}-{CACHE_VERSION}.npz"
    if not path.is_file():
        _save(path, *_render_world(size, seed, encoder, workers))
    return _load(path)


def _render_world(size: str, seed: int, encoder, workers: int):
    from persona_lens.world.identities import build_identities, parallel_map
    from persona_lens.world.profiles import build_profiles

    if hasattr(encoder, "image_tower"):
        encoder.image_tower  # load the tower before minutes of rendering, not after
    spec = world_spec(size, seed)
    tree = build_identities(spec)
    tax = load_taxonomy()
    profiles = build_profiles(spec, tree, tax)
    jobs = [(spec, tree, p, k) for p in profiles for k in range(len(p.prompts))]
    pairs = parallel_map(_render_pair, jobs, workers)
    base_imgs, gen_imgs = [b for b, _ in pairs], [g for _, g in pairs]
    vb, fb = _encode(encoder, base_imgs)
    vg, fg = _encode(encoder, gen_imgs)
    arrays = {"base": vb, "personalized": vg, "base_stats": image_statistics(base_imgs),
              "personalized_stats": image_statistics(gen_imgs)}
    owners = np.array([p.model_id for p, _ in [(j[2], j[3]) for j in jobs]])
    arrays["owner"] = owners
    if fb is not None:
        # The identity ranker's raw features (tasks/rank): the evidence is fitted from them at load time.
        pictures = [(ind, role, k) for ind in tree.individuals
                    for role, n in (("reference", spec.reference_per_instance), ("gallery", spec.gallery_per_instance))
                    for k in range(n)]
        idents = parallel_map(_render_identity, [(spec, ind, k, role) for ind, role, k in pictures], workers)
        labels = np.array([ind.instance for ind, _, _ in pictures])
        roles = np.array([role for _, role, _ in pictures])
        copies, copy_labels = augmented_pictures(idents, np.arange(len(idents)), IDENTITY_COPIES, seed)
        _, fi = _encode(encoder, idents)
        _, fc = _encode(encoder, copies)
        arrays.update(id_features_base=fb, id_features_personalized=fg, id_features=fi, id_labels=labels,
                      id_roles=roles, id_copy_features=fc, id_copy_of=copy_labels,
                      subject=np.array([p.subject.instance for p, _ in [(j[2], j[3]) for j in jobs]]))
    meta = []
    for p in profiles:
        truth = {a: (None, 0.0) for a in tax.names}
        for s in p.shifts:
            truth[s.aspect] = (s.concept.phrase, float(s.intensity))
        meta.append({"model_id": p.model_id, "group": f"{size}-seed{seed}", "truth": truth})
    return arrays, meta


def _render_pair(job):
    from persona_lens.world.profiles import render_base, render_personalized

    spec, tree, profile, k = job
    prompt = profile.prompts[k]
    return render_base(spec, profile, prompt), render_personalized(spec, profile, prompt, tree)


def _render_identity(job):
    from persona_lens.world.identities import render_individual

    spec, individual, k, role = job
    return render_individual(spec, individual, role, k)[0]


def photo_models(files: tuple[str, ...] | None, count: int, pairs: int, seed: int, encoder, cache: Path,
                 name: str) -> list[ModelPairs]:
    """`count` photo "models": each shifts 1-3 image-op aspects of views of the packaged photos `files`
    (scikit-image data file names; None: the aligner's training photos) at known intensities."""
    path = Path(cache) / f"photos-{name}-seed{seed}-{count}x{pairs}-{_slug(encoder)}.npz"
    if not path.is_file():
        _save(path, *_render_photos(files, count, pairs, seed, encoder, name))
    return _load(path)


def _photo_paths(files: tuple[str, ...] | None) -> list[Path]:
    from persona_lens.tasks.aligner.corpus import packaged_photos, split_photos
    from persona_lens.tasks.photos import package_dir

    if files is None:
        train, _ = split_photos(packaged_photos(), heldout=5, seed=0)
        return [p.path for p in train]
    return [package_dir("skimage") / "data" / f for f in files]


def _render_photos(files, count: int, pairs: int, seed: int, encoder, name: str):
    from persona_lens.tasks.aligner.corpus import _load_photo, random_view
    from persona_lens.world.effects import apply_concepts

    tax = load_taxonomy()
    photos = [_load_photo(p) for p in _photo_paths(files)]
    base_imgs, gen_imgs, owners, meta = [], [], [], []
    for m in range(count):
        model_id = f"photo-{name}-{m:04d}"
        rng = rng_for(seed, "finexl-photo-model", name, m)
        shifts = _photo_shifts(tax, rng) if m % 8 else []       # every eighth: the faithful control
        for k in range(pairs):
            view_rng = rng_for(seed, "finexl-photo-view", name, m, k)
            view = random_view(photos[int(view_rng.integers(len(photos)))], view_rng, size=224)
            base_imgs.append(view)
            gen_imgs.append(apply_concepts(view, shifts, rng_for(seed, "finexl-photo-effect", name, m, k)))
            owners.append(model_id)
        truth = {a: (None, 0.0) for a in tax.names}
        for c, t in shifts:
            truth[c.aspect] = (c.phrase, t)
        meta.append({"model_id": model_id, "group": f"photos-{name}", "truth": truth})
    vb, _ = _encode(encoder, base_imgs)
    vg, _ = _encode(encoder, gen_imgs)
    arrays = {"base": vb, "personalized": vg, "base_stats": image_statistics(base_imgs),
              "personalized_stats": image_statistics(gen_imgs), "owner": np.array(owners)}
    return arrays, meta


def _photo_shifts(tax: Taxonomy, rng: np.random.Generator):
    n = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    aspects = [str(a) for a in rng.choice(PHOTO_ASPECTS, size=n, replace=False)]
    out = []
    for a in aspects:
        concepts = tax.aspects[a].concepts
        out.append((concepts[int(rng.integers(len(concepts)))], round(float(rng.uniform(0.2, 1.0)), 2)))
    return out


def _slug(encoder) -> str:
    from persona_lens.models.registry import encoder_slug

    return encoder_slug(getattr(encoder, "name", "encoder"))


def identity_evidence(z, gallery: bool = False, copies: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """(base, personalized) identity evidence of a cached world's pairs (identity.py: score, margin),
    from a ranker fitted on the subjects' references, with their gallery pictures if `gallery`, and
    `copies` of the image-operation copies of each fitted picture; None without identity features."""
    if "id_features" not in z:
        return None
    keep = (z["id_roles"] == "reference") | gallery
    features, labels = [z["id_features"][keep]], [z["id_labels"][keep]]
    if copies:
        if copies > IDENTITY_COPIES:
            raise ValueError(f"a cached world holds {IDENTITY_COPIES} image-op copies per picture, not {copies}")
        source = z["id_copy_of"]
        rank = np.arange(len(source)) % IDENTITY_COPIES      # copies are stored picture by picture
        use = keep[source] & (rank < copies)
        features.append(z["id_copy_features"][use])
        labels.append(z["id_labels"][source[use]])
    scorer = fit_identity_scorer(np.concatenate(features), np.concatenate(labels))
    return scorer.scores(z["id_features_base"], z["subject"]), scorer.scores(z["id_features_personalized"], z["subject"])


def _load(path: Path, gallery: bool = False, copies: int = 0) -> list[ModelPairs]:
    with np.load(path, allow_pickle=False) as f:
        z = {k: f[k] for k in f.files}
    meta = json.loads(str(z["meta"]))
    owner = z["owner"]
    evidence = identity_evidence(z, gallery, copies)
    out = []
    for m in meta:
        rows = owner == m["model_id"]
        out.append(ModelPairs(
            m["model_id"], m["group"], z["base"][rows], z["personalized"][rows], z["base_stats"][rows],
            z["personalized_stats"][rows], None if evidence is None else evidence[0][rows],
            None if evidence is None else evidence[1][rows],
            {a: (c, float(t)) for a, (c, t) in m["truth"].items()}))
    return out
