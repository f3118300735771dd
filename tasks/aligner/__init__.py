"""The aligner stage: captioned corpus (photos and world, with known edits), contrastive training of the
LiT heads on cached tower vectors, held-out evaluation against a linear probe (docs/models/aligner.md)."""
