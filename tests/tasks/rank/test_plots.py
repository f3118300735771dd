"""CMC curves of a rank run, from the `rankings` table: per model, the share of queries whose subject is
retrieved within the top k; a PNG and the markdown of the run's artifact."""

import io

import numpy as np
from PIL import Image

from persona_lens.schemas import RANKINGS
from persona_lens.tasks.rank.plots import INLINE_PNG_BYTES, cmc_curves, cmc_markdown, cmc_png


def rankings(rows):
    """rows: (query, model, granularity, first_hit_rank, num_relevant)."""
    return RANKINGS.from_rows([{"query_image_id": q, "model_id": m, "encoder": "e+lda", "granularity": g,
                                "target": "t", "average_precision": 0.5, "first_hit_rank": r or None,
                                "num_relevant": n} for q, m, g, r, n in rows])


TABLE = rankings([("a", "m1", "instance", 1, 3), ("b", "m1", "instance", 4, 3), ("c", "m1", "instance", 0, 0),
                  ("d", "base", "instance", 7, 3), ("a", "m1", "instance_in_group", 1, 3),
                  ("b", "m1", "instance_in_group", 2, 3), ("a", "m1", "subclass", 1, 9)])


def test_cmc_is_the_share_of_queries_whose_subject_is_within_the_top_k():
    curves = cmc_curves(TABLE, "instance", max_k=8)
    # m1: ranks 1 and 4 (the query without its subject in the gallery is left out, as in summarize).
    np.testing.assert_allclose(curves["m1"], [0.5, 0.5, 0.5, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(curves["base"], [0, 0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(cmc_curves(TABLE, "instance_in_group", max_k=3)["m1"], [0.5, 1, 1])
    assert cmc_curves(TABLE, "category") == {}


def test_the_plot_is_a_png_and_the_markdown_holds_the_values_and_where_the_plot_is():
    curves = {g: cmc_curves(TABLE, g) for g in ("instance", "instance_in_group")}
    png = cmc_png(curves)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > image.height > 200
    assert len(png) <= INLINE_PNG_BYTES
    text = cmc_markdown(curves, "/root/reports/rank/r1/cmc.png", png)
    assert "### CMC: instance\n" in text and "### CMC: instance, within the look-alike group" in text
    assert "| m1 | 0.500 | 0.500 | 0.500 | 1.000 | 1.000 | 1.000 |" in text     # cmc@1, 2, 3, 5, 10, 20
    assert "data:image/png;base64," in text and text.endswith("Plot: `/root/reports/rank/r1/cmc.png`")


def test_no_ranked_subject_gives_an_empty_plot_and_says_so():
    curves = {"instance": {}}
    assert Image.open(io.BytesIO(cmc_png(curves))).format == "PNG"
    assert cmc_markdown(curves).startswith("No ranked query")


def test_a_large_plot_is_linked_not_inlined():
    text = cmc_markdown({"instance": cmc_curves(TABLE, "instance")}, "s3://b/cmc.png", b"x" * (INLINE_PNG_BYTES + 1))
    assert "data:image" not in text and "s3://b/cmc.png" in text
