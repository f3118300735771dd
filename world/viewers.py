"""Simulated viewers: how each looks at a scene (attention) and what it then writes (caption).

A viewer is a viewing `Policy` (what draws its eye, in what scan order, how long it dwells) and a
`Wording` (world/wording.py). For each scene it views, the policy produces a sequence of fixations on
the scene's objects, and the caption names the objects it dwelt on longest (up to its length limit)
in the order it first fixated them, in its own words. So attention order predicts caption order, and
a persona learned from a viewer's attention and captions predicts its next caption: the truth DEPER
is scored against.

`simulate_viewers(spec, scenes)` takes the scene pool rendered by `render_scene_pool(spec, out)` (it
needs the pool's world_images and world_objects rows for the scene image ids and object boxes) and
returns a WorldPart with tables `world_viewers`, `attention` and `captions`. Viewer i is
`viewer-{i:04d}`: the first spec.viewers_train are split "train", the next spec.viewers_fewshot
"fewshot" (held-out new viewers). Every random draw comes from `rng_for(spec.seed, <what>, i, …)`,
so rows do not depend on the order viewers or scenes are simulated in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from persona_lens.world.scene_objects import COLORS, KINDS, SceneObject
from persona_lens.world.spec import WorldError, WorldPart, WorldSpec, rng_for
from persona_lens.world.wording import Mention, Wording, describe, make_wording

SCANS = ("salience", "left_to_right", "right_to_left", "top_down", "centre_out")
SCAN_PROBS = (0.4, 0.15, 0.15, 0.15, 0.15)


@dataclass(frozen=True)
class Policy:
    """A viewing policy; its JSON (`to_json`) is `world_viewers.policy`.

    Salience of an object = kind weight + colour weight + size_weight·log(relative area)
    + centrality_weight·centrality + texture_weight·[patterned]; it sets the scan order of
    "salience" viewers, the chance of skipping an object, and how long the eye stays on it.
    """

    kind_weights: dict[str, float]
    color_weights: dict[str, float]
    size_weight: float
    centrality_weight: float
    texture_weight: float
    scan: str                     # one of SCANS: salience first, or a spatial sweep
    order_noise: float            # how strictly the scan order is followed
    dwell_mean: float             # seconds per fixation on an object of average salience
    dwell_pref: float             # log-dwell gained per unit of salience
    refixation: float             # mean extra fixations on an object of average salience
    skip: float                   # chance of never looking at an unappealing object
    background_rate: float        # chance of a glance at the background after an object
    spread: float                 # fixation scatter around an object's centre, fraction of its half-size
    revisit: float                # chance of a last look back at the object dwelt on longest
    saccade: float                # seconds between two fixations

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def make_policy(rng: np.random.Generator) -> Policy:
    """A random policy with a few strong likes (two kinds, one colour) and one dislike."""
    kinds, colors = list(KINDS), list(COLORS)
    kind_w = rng.normal(0.0, 0.4, len(kinds))
    liked = rng.choice(len(kinds), size=3, replace=False)
    kind_w[liked[:2]] += 1.5
    kind_w[liked[2]] -= 1.0
    color_w = rng.normal(0.0, 0.4, len(colors))
    color_w[rng.integers(len(colors))] += 1.2
    return Policy(
        kind_weights={k: round(float(w), 3) for k, w in zip(kinds, kind_w)},
        color_weights={c: round(float(w), 3) for c, w in zip(colors, color_w)},
        size_weight=round(float(rng.normal(0.6, 0.5)), 3),
        centrality_weight=round(float(rng.normal(0.5, 0.5)), 3),
        texture_weight=round(float(rng.normal(0.0, 0.6)), 3),
        scan=str(rng.choice(SCANS, p=SCAN_PROBS)),
        order_noise=round(float(rng.uniform(0.1, 0.6)), 3),
        dwell_mean=round(float(rng.uniform(0.18, 0.4)), 3),
        dwell_pref=round(float(rng.uniform(0.2, 0.9)), 3),
        refixation=round(float(rng.uniform(0.2, 1.5)), 3),
        skip=round(float(rng.uniform(0.0, 0.35)), 3),
        background_rate=round(float(rng.uniform(0.03, 0.2)), 3),
        spread=round(float(rng.uniform(0.1, 0.3)), 3),
        revisit=round(float(rng.uniform(0.0, 0.4)), 3),
        saccade=round(float(rng.uniform(0.02, 0.05)), 3),
    )


def salience(policy: Policy, objects: list[SceneObject]) -> np.ndarray:
    """Each object's salience for this viewer, centred on the scene's mean and clipped to [-2, 2]."""
    area = np.array([o.w * o.h for o in objects])
    centrality = np.array([1.0 - 2.0 * np.hypot(o.x - 0.5, o.y - 0.5) for o in objects])
    s = np.array([policy.kind_weights[o.kind] + policy.color_weights[o.color]
                  + policy.texture_weight * (o.texture != "plain") for o in objects])
    s = s + policy.size_weight * np.log(area / area.mean()) + policy.centrality_weight * centrality
    return np.clip(s - s.mean(), -2.0, 2.0)


@dataclass(frozen=True)
class Fixation:
    x: float
    y: float
    t: float                      # start, seconds from the first fixation
    dur: float                    # seconds
    target: int | None            # index of the fixated object; None for the background


@dataclass(frozen=True)
class Viewing:
    """One viewer's look at one scene: its fixations in time order."""

    fixations: tuple[Fixation, ...]

    def first_order(self) -> list[int]:
        """Objects in the order they were first fixated."""
        seen: list[int] = []
        for f in self.fixations:
            if f.target is not None and f.target not in seen:
                seen.append(f.target)
        return seen

    def dwell(self) -> dict[int, float]:
        """Total fixation time per fixated object."""
        out: dict[int, float] = {}
        for f in self.fixations:
            if f.target is not None:
                out[f.target] = out.get(f.target, 0.0) + f.dur
        return out


def scan_order(policy: Policy, objects: list[SceneObject], z: np.ndarray, rng: np.random.Generator) -> list[int]:
    """The order the eye visits objects in: by salience (with Gumbel noise) or a noisy spatial sweep."""
    x = np.array([o.x for o in objects])
    y = np.array([o.y for o in objects])
    jitter = rng.normal(0.0, 0.1 * policy.order_noise, len(objects))
    if policy.scan == "salience":
        key = -(z + rng.gumbel(0.0, policy.order_noise, len(objects)))
    elif policy.scan == "left_to_right":
        key = x + jitter
    elif policy.scan == "right_to_left":
        key = -x + jitter
    elif policy.scan == "top_down":
        key = y + jitter
    elif policy.scan == "centre_out":
        key = np.hypot(x - 0.5, y - 0.5) + jitter
    else:
        raise ValueError(f"unknown scan {policy.scan!r}; known: {SCANS}")
    return [int(i) for i in np.argsort(key, kind="stable")]


def view_scene(policy: Policy, objects: list[SceneObject], rng: np.random.Generator) -> Viewing:
    """Simulate the fixations of a viewer with `policy` on a scene holding `objects`."""
    z = salience(policy, objects)
    order = scan_order(policy, objects, z, rng)
    # Unappealing objects may be skipped, but at least two (or all, if fewer) are looked at.
    skip = rng.random(len(objects)) < policy.skip / (1.0 + np.exp(2.0 * z))
    keep = set(np.argsort(-z, kind="stable")[: min(2, len(objects))].tolist())
    visits = [i for i in order if not skip[i] or i in keep]

    fixations: list[Fixation] = []
    t = 0.0

    def fixate(x: float, y: float, dur: float, target: int | None) -> None:
        nonlocal t
        fixations.append(Fixation(float(np.clip(x, 0.0, 1.0)), float(np.clip(y, 0.0, 1.0)), t, dur, target))
        t += dur + policy.saccade * float(rng.uniform(0.7, 1.3))

    def look_at(i: int) -> None:
        o = objects[i]
        dx, dy = np.clip(rng.normal(0.0, policy.spread, 2), -0.8, 0.8)   # stays inside the box
        dur = policy.dwell_mean * np.exp(policy.dwell_pref * z[i]) * rng.lognormal(0.0, 0.25)
        fixate(o.x + dx * o.w / 2, o.y + dy * o.h / 2, float(np.clip(dur, 0.06, 1.6)), i)

    for i in visits:
        for _ in range(1 + min(3, int(rng.poisson(policy.refixation * np.exp(0.5 * policy.dwell_pref * z[i]))))):
            look_at(i)
        if rng.random() < policy.background_rate:
            point = _background_point(objects, rng)
            if point is not None:
                fixate(*point, float(rng.uniform(0.08, 0.2)), None)
    if rng.random() < policy.revisit:
        dwell = Viewing(tuple(fixations)).dwell()
        look_at(max(dwell, key=lambda k: (dwell[k], -k)))
    return Viewing(tuple(fixations))


def _background_point(objects: list[SceneObject], rng: np.random.Generator) -> tuple[float, float] | None:
    """A random point outside every object's box (grown by 10%), or None if none was found quickly."""
    for _ in range(20):
        x, y = rng.uniform(0.03, 0.97, 2)
        if all(abs(x - o.x) > 0.55 * o.w or abs(y - o.y) > 0.55 * o.h for o in objects):
            return float(x), float(y)
    return None


def select_mentions(viewing: Viewing, max_objects: int) -> list[int]:
    """The objects a caption names: the `max_objects` dwelt on longest, in first-fixation order."""
    dwell = viewing.dwell()
    first = viewing.first_order()
    top = sorted(first, key=lambda i: (-dwell[i], first.index(i)))[:max_objects]
    return [i for i in first if i in top]


@dataclass(frozen=True)
class Viewer:
    viewer_id: str
    split: str                    # train | fewshot
    policy: Policy
    wording: Wording
    scenes: tuple[int, ...]       # scene indices viewed, ascending


def check_viewer_spec(spec: WorldSpec) -> None:
    """Raise WorldError naming the field if `spec`'s viewer fields are impossible."""
    if spec.viewers_train + spec.viewers_fewshot and not 1 <= spec.scenes_per_viewer <= spec.scenes:
        raise WorldError(f"scenes_per_viewer must be in [1, scenes={spec.scenes}] when there are viewers, "
                         f"got {spec.scenes_per_viewer}")


def make_viewer(spec: WorldSpec, index: int) -> Viewer:
    """Viewer `index` of `spec` (train for index < viewers_train, fewshot after)."""
    split = "train" if index < spec.viewers_train else "fewshot"
    scenes = rng_for(spec.seed, "viewer-scenes", index).choice(spec.scenes, size=spec.scenes_per_viewer, replace=False)
    return Viewer(f"viewer-{index:04d}", split, make_policy(rng_for(spec.seed, "viewer-policy", index)),
                  make_wording(rng_for(spec.seed, "viewer-wording", index)), tuple(sorted(int(s) for s in scenes)))


def scene_pool(scenes: WorldPart) -> dict[int, tuple[str, list[SceneObject]]]:
    """Scene index → (image_id, objects), read back from render_scenes' world_images and world_objects rows."""
    objects: dict[str, list[SceneObject]] = {}
    for row in scenes.tables.get("world_objects", []):
        attrs = json.loads(row["attributes"])
        objects.setdefault(row["image_id"], []).append(SceneObject(
            row["object_id"], row["kind"], attrs["color"], attrs["size"], attrs["texture"],
            row["x"], row["y"], row["w"], row["h"], attrs["depth"]))
    pool = {}
    for row in scenes.tables.get("world_images", []):
        if row["kind"] == "scene":
            pool[json.loads(row["params"])["scene"]] = (row["image_id"], objects.get(row["image_id"], []))
    return pool


def simulate_viewers(spec: WorldSpec, scenes: WorldPart) -> WorldPart:
    """Viewers of `spec` looking at and captioning the scene pool `scenes` (from render_scene_pool).

    Returns tables world_viewers (one row per viewer), attention and captions (one row per viewer and
    viewed scene; captions have model "human"). Raises WorldError if the viewer fields are impossible
    or `scenes` lacks a scene a viewer views.
    """
    check_viewer_spec(spec)
    pool = scene_pool(scenes)
    part = WorldPart()
    for index in range(spec.viewers_train + spec.viewers_fewshot):
        viewer = make_viewer(spec, index)
        part.add_row("world_viewers", {"viewer_id": viewer.viewer_id, "split": viewer.split,
                                       "policy": viewer.policy.to_json(), "wording": viewer.wording.to_json()})
        for scene in viewer.scenes:
            if scene not in pool or not pool[scene][1]:
                raise WorldError(f"scene {scene} (viewed by {viewer.viewer_id}) is not in the scene pool given: "
                                 f"render_scene_pool with the same spec (scenes={spec.scenes}) first")
            image_id, objects = pool[scene]
            viewing = view_scene(viewer.policy, objects, rng_for(spec.seed, "view", index, scene))
            mentions = [Mention(objects[i].kind, objects[i].color, objects[i].size, objects[i].texture)
                        for i in select_mentions(viewing, viewer.wording.max_objects)]
            text = describe(viewer.wording, mentions, rng_for(spec.seed, "caption", index, scene))
            part.add_row("attention", {"viewer_id": viewer.viewer_id, "image_id": image_id, "fixations": [
                {"x": round(f.x, 4), "y": round(f.y, 4), "t": round(f.t, 4), "dur": round(f.dur, 4)}
                for f in viewing.fixations]})
            part.add_row("captions", {"viewer_id": viewer.viewer_id, "image_id": image_id, "text": text, "model": "human"})
    return part
