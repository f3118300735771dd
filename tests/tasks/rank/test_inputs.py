"""Reading the rank stage's inputs from the tables: vectors in the asked order, a clear error when missing."""

import numpy as np
import pytest

from persona_lens.storage import Catalog, write_part
from persona_lens.tasks.embed.encode import embeddings_table
from persona_lens.tasks.rank.inputs import load_vectors
from persona_lens.tasks.rank.ranker import RankError


@pytest.fixture
def embedded_root(root):
    vectors = np.eye(3, dtype=np.float32)
    write_part(root, "embeddings", embeddings_table(["a" * 64, "b" * 64, "c" * 64], "enc", vectors, "torch"), "r1")
    return root


def test_vectors_come_back_in_the_order_asked(embedded_root):
    with Catalog(embedded_root) as cat:
        got = load_vectors(cat, "enc", np.array(["c" * 64, "a" * 64], dtype=object))
    np.testing.assert_array_equal(got, np.eye(3, dtype=np.float32)[[2, 0]])


def test_an_image_without_a_vector_names_the_encoder_and_the_embed_command(embedded_root):
    with Catalog(embedded_root) as cat, pytest.raises(RankError, match="persona-lens embed --encoder enc"):
        load_vectors(cat, "enc", np.array(["a" * 64, "d" * 64], dtype=object))
    with Catalog(embedded_root) as cat, pytest.raises(RankError, match="no 'other' embedding"):
        load_vectors(cat, "other", np.array(["a" * 64], dtype=object))
