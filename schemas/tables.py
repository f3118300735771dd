"""One schema per table of ARCHITECTURE.md §5. Later stages fill these tables; the columns live only here."""

from __future__ import annotations

import pyarrow as pa

from persona_lens.schemas.base import VECTOR, Column, TableSchema

_ts = pa.timestamp("us", tz="UTC")
_labels = pa.map_(pa.string(), pa.string())

IMAGES = TableSchema(
    "images", 1,
    "Every ingested image, once per image_id. Bytes live in a WebDataset shard; `uri` points into it.",
    (
        Column("image_id", pa.string(), "sha256 (hex) of the image file's bytes; the WebDataset __key__ and join key."),
        Column("uri", pa.string(), "Location of the bytes: `<shard path relative to the root>#<tar member>`."),
        Column("role", pa.string(), "What the image is for: reference, gallery, generated, scene, …"),
        Column("source", pa.string(), "Where the image came from (file path, URL or `<tar>#<member>`)."),
        Column("category", pa.string(), "Identity label, coarsest level (e.g. creature kind).", True),
        Column("subclass", pa.string(), "Identity label, middle level (e.g. breed).", True),
        Column("instance", pa.string(), "Identity label, finest level (one individual).", True),
        Column("subject", pa.string(), "Personalization subject the image belongs to, if any.", True),
        Column("labels", _labels, "All label levels given at ingest, by level name."),
        Column("width", pa.int32(), "Width in pixels after EXIF rotation."),
        Column("height", pa.int32(), "Height in pixels after EXIF rotation."),
        Column("format", pa.string(), "Decoded file format (JPEG, PNG, …)."),
        Column("num_bytes", pa.int64(), "Size of the file in bytes."),
        Column("ingested_at", _ts, "When the row was written."),
    ),
    key=("image_id",),
)

QUARANTINE = TableSchema(
    "quarantine", 1,
    "Items a stage refused, with the reason; the good items of the same batch still land.",
    (
        Column("stage", pa.string(), "Stage that refused the item (ingest, embed, …)."),
        Column("source", pa.string(), "The item: file path, URL, `<tar>#<member>`, `<manifest>:<row>`, image_id."),
        Column("reason", pa.string(), "Short, stable reason code (e.g. truncated_image, path_traversal)."),
        Column("detail", pa.string(), "Human-readable explanation."),
        Column("quarantined_at", _ts, "When the row was written."),
    ),
    key=("stage", "source", "reason"),
)

GENERATIONS = TableSchema(
    "generations", 2,
    "One generated image: which model made it from which prompt and seed (or latent code), paired with "
    "the base model's output for the same prompt and seed.",
    (
        Column("image_id", pa.string(), "The generated image (a row of `images` with role=generated)."),
        Column("model_id", pa.string(), "Personalized model (or the base model) that generated it."),
        Column("method", pa.string(), "lora, dreambooth, textual_inversion, full, base, simulated."),
        Column("subject", pa.string(), "Subject the model was personalized on.", True),
        Column("prompt", pa.string(), "Text prompt; empty for generators driven by latent codes only."),
        Column("seed", pa.int64(), "Seed (shared with the paired base image)."),
        Column("base_image_id", pa.string(), "Base model's output for the same prompt and seed.", True),
        Column("generator", pa.string(), "Base generator id or path."),
        Column("latent_id", pa.string(), "Latent code `<sampler>:<seed>:<index>` (shared with the base twin).", True),
        Column("hyperparameters", pa.string(), "Personalization hyper-parameters as JSON.", True),
        Column("adapter_uri", pa.string(), "The trained adapter's safetensors file (row of `adapters`).", True),
        Column("wall_seconds", pa.float64(), "Seconds spent generating the image (its batch's share).", True),
    ),
    key=("image_id",),
)

ADAPTERS = TableSchema(
    "adapters", 1,
    "One trained personalization (adapter or fine-tuned generator): what it was trained from and how.",
    (
        Column("model_id", pa.string(), "Personalized model; `generations.model_id`."),
        Column("base_model", pa.string(), "Base generator id or path."),
        Column("base_digest", pa.string(), "sha256 of the base generator's weights."),
        Column("method", pa.string(), "lora or full."),
        Column("subject", pa.string(), "Subject it was personalized on."),
        Column("steps", pa.int32(), "Training steps."),
        Column("final_loss", pa.float64(), "Training loss at the last step."),
        Column("checkpoint_uri", pa.string(), "The adapter's safetensors file."),
        Column("seconds", pa.float64(), "Wall time of the personalization (inversion included)."),
        Column("hyperparameters", pa.string(), "Hyper-parameters as JSON."),
    ),
    key=("model_id",),
)

GENERATE_TRUTH = TableSchema(
    "generate_truth", 1,
    "Known personalization of real-model snapshots trained on concept-shifted references: one row per "
    "(model, aspect), as `world_profiles`, plus the snapshot's training step.",
    (
        Column("model_id", pa.string(), "Personalized model snapshot; `generations.model_id`."),
        Column("subject", pa.string(), "Subject whose references were shifted."),
        Column("aspect", pa.string(), "Aspect from the taxonomy."),
        Column("concept", pa.string(), "Concept applied to the references; null when none.", True),
        Column("intensity", pa.float32(), "Intensity the concept was applied at, in [0, 1]; 0 means unchanged."),
        Column("steps", pa.int32(), "Training steps of the snapshot."),
    ),
    key=("model_id", "aspect"),
)

EMBEDDINGS = TableSchema(
    "embeddings", 1,
    "One L2-normalised float32 vector per (image, encoder).",
    (
        Column("image_id", pa.string(), "Embedded image."),
        Column("encoder", pa.string(), "Encoder name or path (registry name)."),
        Column("dim", pa.int32(), "Vector length."),
        Column("vector", VECTOR, "L2-normalised embedding, FLOAT[dim]."),
        Column("runtime", pa.string(), "Runtime that computed it (torch, onnxruntime); for a vector derived "
                                       "from another encoder's stored vector (lite0 and LiT from the "
                                       "multi-level vector), the runtime of that vector."),
    ),
    key=("image_id", "encoder"),
)

TEXT_EMBEDDINGS = TableSchema(
    "text_embeddings", 1,
    "One L2-normalised float32 vector per (text, encoder); texts come from captions, prompts, concepts.",
    (
        Column("text_id", pa.string(), "sha256 (hex) of the UTF-8 text."),
        Column("text", pa.string(), "The text."),
        Column("encoder", pa.string(), "Encoder name or path."),
        Column("dim", pa.int32(), "Vector length."),
        Column("vector", VECTOR, "L2-normalised embedding, FLOAT[dim]."),
    ),
    key=("text_id", "encoder"),
)

FIXATION = pa.struct([("x", pa.float32()), ("y", pa.float32()), ("t", pa.float32()), ("dur", pa.float32())])

ATTENTION = TableSchema(
    "attention", 1,
    "A viewer's attention sequence on one image: fixations in image-relative coordinates.",
    (
        Column("viewer_id", pa.string(), "Viewer."),
        Column("image_id", pa.string(), "Viewed image."),
        Column("fixations", pa.list_(FIXATION), "Fixations in order: x, y in [0, 1], start t and duration in s."),
    ),
    key=("viewer_id", "image_id"),
)

CAPTIONS = TableSchema(
    "captions", 1,
    "Captions of images: written by viewers (model='human') or generated by a captioner.",
    (
        Column("viewer_id", pa.string(), "Viewer the caption is by or for; null for generic captions.", True),
        Column("image_id", pa.string(), "Captioned image."),
        Column("text", pa.string(), "Caption text."),
        Column("model", pa.string(), "'human' or the captioner/method that produced it."),
    ),
    key=("viewer_id", "image_id", "model"),
)

EXPLANATIONS = TableSchema(
    "explanations", 2,
    "FineXL: each aspect of a personalized model's personalization, named, with its intensity; one row "
    "per (model, aspect), every aspect of the taxonomy (intensity 0 when unchanged), plus one `summary` row.",
    (
        Column("model_id", pa.string(), "Personalized model explained."),
        Column("method", pa.string(), "Explainer (finexl, or a baseline's name)."),
        Column("aspect", pa.string(), "Aspect (identity, style, color, texture, composition, lighting, "
                                      "background), or `summary` for the model's summary paragraph."),
        Column("level", pa.string(), "none, slight, moderate or strong (the intensity's band); null on `summary`.", True),
        Column("concept", pa.string(), "Concept moved to, from the aspect's vocabulary; null when unchanged.", True),
        Column("concept_from", pa.string(), "Concept moved away from, when the base pictures showed one.", True),
        Column("intensity", pa.float32(), "Calibrated intensity in [0, 1]."),
        Column("confidence", pa.float32(), "Share of bootstrap resamples of the pairs giving the same reading."),
        Column("measured", pa.bool_(), "Measured image statistics or identity scores joined the language evidence.", True),
        Column("text", pa.string(), "The explanation in words (a sentence, or the summary paragraph)."),
    ),
    key=("model_id", "method", "aspect"),
)

RANKINGS = TableSchema(
    "rankings", 1,
    "Finer-Personalization Rank: one generated query against the gallery, per granularity.",
    (
        Column("query_image_id", pa.string(), "Generated image used as the query."),
        Column("model_id", pa.string(), "Model that generated the query."),
        Column("encoder", pa.string(), "Encoder whose embeddings were ranked."),
        Column("granularity", pa.string(), "category, subclass, instance, or instance_in_group (the instance "
                                           "level with the gallery cut to the query's look-alike group, its subclass)."),
        Column("target", pa.string(), "The query's true label at this granularity."),
        Column("average_precision", pa.float32(), "AP of the gallery ranking for this query."),
        Column("first_hit_rank", pa.int32(), "1-based rank of the first relevant gallery image (CMC).", True),
        Column("num_relevant", pa.int32(), "Relevant gallery images."),
    ),
    key=("query_image_id", "model_id", "encoder", "granularity"),
)

RANK_SUMMARY = TableSchema(
    "rank_summary", 2,
    "Aggregates of `rankings` and the semantic scores beside them, per model and granularity.",
    (
        Column("model_id", pa.string(), "Model."),
        Column("subject", pa.string(), "The individual the model's pictures are ranked for (null when they "
                                       "are ranked for several, or in rows written before schema v2).", True),
        Column("encoder", pa.string(), "Encoder."),
        Column("granularity", pa.string(), "category, subclass, instance, instance_in_group, or 'semantic'."),
        Column("metric", pa.string(), "mAP, recall@k, cmc@k; real_mAP (the model's subjects' real reference "
                                      "pictures as queries: the real-image baseline) and preservation (mAP / "
                                      "real_mAP); clip_i, dino (mean cosine to the subject's references) and clip_i_map, "
                                      "dino_map (instance mAP retrieving in that encoder's own space)."),
        Column("k", pa.int32(), "k for @k metrics.", True),
        Column("value", pa.float64(), "Value."),
    ),
    key=("model_id", "encoder", "granularity", "metric", "k"),
)

RANK_SCORES = TableSchema(
    "rank_scores", 1,
    "Per query image and score: what eval-rank reads (generated images, their base twins, references).",
    (
        Column("query_image_id", pa.string(), "The query image."),
        Column("kind", pa.string(), "personalized, base (its twin: same prompt and seed) or reference."),
        Column("model_id", pa.string(), "Model that generated the query; null for a reference image.", True),
        Column("subject", pa.string(), "Individual the query is ranked for."),
        Column("paired_image_id", pa.string(), "The other image of a (personalized, base) pair.", True),
        Column("method", pa.string(), "fpr (the fitted identity ranker), raw (the encoder's space), clip_i, dino."),
        Column("encoder", pa.string(), "Encoder (and ranker) the score comes from."),
        Column("granularity", pa.string(), "category, subclass or instance for ranked scores; null for cosines.", True),
        Column("score", pa.float64(), "Average precision of the ranking, or the mean cosine to the references."),
        Column("first_hit_rank", pa.int32(), "1-based rank of the first relevant gallery image.", True),
        Column("num_relevant", pa.int32(), "Relevant gallery images.", True),
        Column("gallery_size", pa.int32(), "Images in the gallery ranked."),
    ),
    key=("query_image_id", "kind", "paired_image_id", "method", "encoder", "granularity"),
)

PERSONAS = TableSchema(
    "personas", 1,
    "DEPER persona embedding of a viewer, learned from attention sequences and wording.",
    (
        Column("viewer_id", pa.string(), "Viewer."),
        Column("method", pa.string(), "How the persona was obtained."),
        Column("num_shots", pa.int32(), "Examples it was learned from."),
        Column("dim", pa.int32(), "Vector length."),
        Column("vector", VECTOR, "Persona embedding, FLOAT[dim]."),
    ),
    key=("viewer_id", "method"),
)

CAPTION_SCORES = TableSchema(
    "caption_scores", 1,
    "Scores of generated captions against a viewer's references (CIDEr, BLEU, …).",
    (
        Column("viewer_id", pa.string(), "Viewer.", True),
        Column("image_id", pa.string(), "Image.", True),
        Column("method", pa.string(), "Captioning method."),
        Column("metric", pa.string(), "Metric name."),
        Column("value", pa.float64(), "Value."),
    ),
    key=("viewer_id", "image_id", "method", "metric"),
)

RUNS = TableSchema(
    "runs", 2,
    "One row per flow run: what ran, with which configuration and code, how long, how many rows.",
    (
        Column("flow", pa.string(), "Flow name."),
        Column("status", pa.string(), "completed or failed."),
        Column("started_at", _ts, "Start time."),
        Column("finished_at", _ts, "End time."),
        Column("config", pa.string(), "Flow parameters as JSON (no secrets)."),
        Column("code_version", pa.string(), "Package version and git commit, if known."),
        Column("error", pa.string(), "Why a failed run failed (the error's type and first line).", True),
        Column("timings", pa.map_(pa.string(), pa.float64()), "Seconds per step."),
        Column("counts", pa.map_(pa.string(), pa.int64()), "Rows or items per kind."),
    ),
)


def eval_table(stage: str) -> TableSchema:
    """The shared schema of every `eval_<stage>` table, so all stages' scores meet in one query."""
    if not stage.isidentifier() or not stage.islower():
        raise ValueError(f"stage must be a lower-case identifier, got {stage!r}")
    return TableSchema(
        f"eval_{stage}", 1,
        f"Evaluation scores of the {stage} stage against ground truth and baselines.",
        (
            Column("stage", pa.string(), "Stage evaluated."),
            Column("method", pa.string(), "Method or baseline scored."),
            Column("metric", pa.string(), "Metric name."),
            Column("value", pa.float64(), "Value."),
            Column("split", pa.string(), "Data split (train, test, heldout, …)."),
            Column("detail", pa.string(), "Anything that qualifies the value (aspect, k, subset).", True),
        ),
        key=("stage", "method", "metric", "split", "detail"),
    )
