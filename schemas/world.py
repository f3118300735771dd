"""The synthetic world's ground truth (ARCHITECTURE.md §4): what was rendered, with which known values.

The world's images go through the normal ingest path into `images` (and `generations`, `attention`,
`captions`); these tables hold what a real dataset never has: the truth each method is scored against.
They join to the normal tables on `image_id`, `instance`, `model_id` and `viewer_id`.
"""

from __future__ import annotations

import pyarrow as pa

from persona_lens.schemas.base import Column, TableSchema

WORLD_IDENTITIES = TableSchema(
    "world_identities", 1,
    "One row per individual of the world: its place in the identity tree and its distinctive marks.",
    (
        Column("instance", pa.string(), "Individual (the finest identity level); `images.instance`."),
        Column("subclass", pa.string(), "Subclass (e.g. breed); `images.subclass`."),
        Column("category", pa.string(), "Category (e.g. creature kind); `images.category`."),
        Column("group", pa.string(), "Look-alike group: subclasses that are hard to tell apart."),
        Column("marks", pa.string(), "The instance's distinctive marks as JSON (kind, position, colour…)."),
        Column("num_reference", pa.int32(), "Reference images rendered (what a user personalizes on)."),
        Column("num_gallery", pa.int32(), "Gallery images rendered (what retrieval ranks against)."),
    ),
    key=("instance",),
)

WORLD_IMAGES = TableSchema(
    "world_images", 1,
    "One row per rendered world image: the render parameters that made it.",
    (
        Column("image_id", pa.string(), "sha256 of the rendered file's bytes; `images.image_id`."),
        Column("kind", pa.string(), "reference, gallery, generated, base, scene, aligner."),
        Column("instance", pa.string(), "Individual shown, if one is.", True),
        Column("seed", pa.int64(), "Seed the image was rendered from."),
        Column("params", pa.string(), "Render parameters as JSON (pose, scale, position, background, light…)."),
    ),
    key=("image_id",),
)

WORLD_PROFILES = TableSchema(
    "world_profiles", 1,
    "Known personalization of each simulated personalized model: one row per (model, aspect).",
    (
        Column("model_id", pa.string(), "Simulated personalized model; `generations.model_id`."),
        Column("subject", pa.string(), "Instance it was personalized on; `world_identities.instance`."),
        Column("aspect", pa.string(), "Aspect from the taxonomy (identity, style, color, …)."),
        Column("concept", pa.string(), "Concept phrase of the shift, from the taxonomy; null when none.", True),
        Column("intensity", pa.float32(), "Known intensity of the shift in [0, 1]; 0 means unchanged."),
    ),
    key=("model_id", "aspect"),
)

WORLD_VIEWERS = TableSchema(
    "world_viewers", 1,
    "One row per simulated viewer: its viewing policy and wording style.",
    (
        Column("viewer_id", pa.string(), "Viewer; `attention.viewer_id`, `captions.viewer_id`."),
        Column("split", pa.string(), "train (persona learning) or fewshot (held-out new viewers)."),
        Column("policy", pa.string(), "Viewing policy as JSON: what draws the eye, scan order, dwell."),
        Column("wording", pa.string(), "Wording style as JSON: vocabulary, order, length, templates."),
    ),
    key=("viewer_id",),
)

WORLD_OBJECTS = TableSchema(
    "world_objects", 1,
    "One row per object in a scene image: what it is and where.",
    (
        Column("image_id", pa.string(), "Scene image; `images.image_id`."),
        Column("object_id", pa.string(), "Object within the scene (stable within the image)."),
        Column("kind", pa.string(), "Object kind (a word the captions use)."),
        Column("attributes", pa.string(), "Attributes as JSON (colour, size, texture…)."),
        Column("x", pa.float32(), "Box centre x in [0, 1]."),
        Column("y", pa.float32(), "Box centre y in [0, 1]."),
        Column("w", pa.float32(), "Box width in [0, 1]."),
        Column("h", pa.float32(), "Box height in [0, 1]."),
    ),
    key=("image_id", "object_id"),
)

WORLD_TABLES = (WORLD_IDENTITIES, WORLD_IMAGES, WORLD_PROFILES, WORLD_VIEWERS, WORLD_OBJECTS)
