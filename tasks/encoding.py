"""One tower pass per picture for the stages that need two views of it (explain, the drift sweep)."""

from __future__ import annotations

import numpy as np


def encode_pictures(encoder, images) -> tuple[np.ndarray, np.ndarray]:
    """(vision-language vectors, identity-ranker features) of `images` in one tower pass: the LiT
    aligner's frozen image-tower features feed both its head and the ranker; an encoder without a
    separate tower (a CLIP folder) gives its image vectors for both."""
    if hasattr(encoder, "embed_image_features") and hasattr(encoder, "image_tower"):
        features = encoder.image_tower.encode_images(images)
        return encoder.embed_image_features(features), features
    vectors = encoder.encode_images(images)
    return vectors, vectors
