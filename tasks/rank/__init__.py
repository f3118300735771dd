"""Finer-Personalization Rank (stage 5): identity retrieval of generated images against a labelled gallery."""
