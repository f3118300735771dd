"""Every table has one documented, versioned schema, and validation names the problem."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from persona_lens.schemas import TABLES, SchemaError, get_schema, validate
from persona_lens.schemas import EMBEDDINGS, IMAGES

ARCHITECTURE_TABLES = {"images", "quarantine", "generations", "embeddings", "attention", "captions",
                       "explanations", "rankings", "rank_summary", "rank_scores", "personas", "caption_scores", "runs"}


def test_every_table_of_the_architecture_has_a_schema():
    assert ARCHITECTURE_TABLES <= set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_column_is_documented_and_the_schema_is_versioned(name):
    schema = get_schema(name)
    assert schema.version >= 1 and schema.doc
    arrow = schema.arrow(vector_dim=4)
    assert arrow.metadata[b"schema_version"] == str(schema.version).encode()
    assert all(f.metadata[b"doc"] for f in arrow)
    assert "run_id" not in schema.names  # it is the hive partition, added by readers


def test_eval_tables_share_one_schema():
    a, b = get_schema("eval_explain"), get_schema("eval_rank")
    assert a.names == b.names == ["stage", "method", "metric", "value", "split", "detail"]
    with pytest.raises(ValueError, match="lower-case identifier"):
        get_schema("eval_Bad-Name")


def test_unknown_table_is_named_in_the_error():
    with pytest.raises(KeyError, match="unknown table 'imagez'"):
        get_schema("imagez")


def image_row(**over):
    row = dict(image_id="a" * 64, uri="s#a.jpg", role="gallery", source="x.jpg", labels=[], width=8, height=8,
               format="JPEG", num_bytes=10, ingested_at=dt.datetime.now(dt.timezone.utc))
    return {**row, **over}


def test_from_rows_fills_nullable_columns_and_refuses_unknown_ones():
    t = IMAGES.from_rows([image_row()])
    assert t.column("category").to_pylist() == [None]
    with pytest.raises(SchemaError, match=r"no column\(s\) \['colour'\]"):
        IMAGES.from_rows([image_row(colour="red")])


def test_null_in_a_required_column_is_refused():
    with pytest.raises(SchemaError, match="'role'"):
        IMAGES.from_rows([image_row(role=None)])


def vectors(values, dim):
    return pa.FixedSizeListArray.from_arrays(pa.array(np.asarray(values, np.float32).ravel()), dim)


def embeddings(vec):
    return pa.table({"image_id": ["a"], "encoder": ["e"], "dim": pa.array([vec.type.list_size], pa.int32()),
                     "vector": vec, "runtime": ["torch"]})


def test_vector_column_must_be_fixed_size_float32_and_finite():
    ok = validate(embeddings(vectors([0.6, 0.8], 2)), EMBEDDINGS)
    assert ok.schema.field("vector").type == pa.list_(pa.float32(), 2)
    with pytest.raises(SchemaError, match="NaN or infinite"):
        validate(embeddings(vectors([np.nan, 1.0], 2)), EMBEDDINGS)
    bad = embeddings(vectors([0.6, 0.8], 2)).set_column(3, "vector", pa.array([[0.6, 0.8]], pa.list_(pa.float64())))
    with pytest.raises(SchemaError, match="fixed-size float32 list"):
        validate(bad, EMBEDDINGS)


def test_missing_extra_and_mistyped_columns_are_named():
    t = embeddings(vectors([1.0], 1))
    with pytest.raises(SchemaError, match=r"missing columns \['runtime'\]"):
        validate(t.drop(["runtime"]), EMBEDDINGS)
    with pytest.raises(SchemaError, match=r"unexpected columns \['extra'\]"):
        validate(t.append_column("extra", pa.array([1])), EMBEDDINGS)
    with pytest.raises(SchemaError, match="'dim' must be int32, got int64"):
        validate(t.set_column(2, "dim", pa.array([1], pa.int64())), EMBEDDINGS)


def test_docs_tables_md_is_generated_from_the_current_schemas():
    import subprocess
    import sys
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
    fresh = subprocess.run([sys.executable, "-m", "persona_lens.schemas"], capture_output=True, text=True,
                           check=True).stdout
    assert docs.read_text() == fresh, "regenerate: python -m persona_lens.schemas > docs/tables.md"
