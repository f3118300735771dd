"""fsspec-backed I/O: dataset root, Parquet tables, WebDataset shards, DuckDB catalog. No math here."""

from persona_lens.storage.catalog import Catalog, QueryError
from persona_lens.storage.parquet import (
    list_parts, read_marker, read_table, write_marker, write_part,
)
from persona_lens.storage.reports import write_report
from persona_lens.storage.root import DatasetRoot, StorageError, filesystem_for, open_root
from persona_lens.storage.settings import Settings, get_settings
from persona_lens.storage.shards import ShardWriter, iter_tar_members, list_shards, read_members, split_uri

__all__ = [
    "Catalog", "QueryError", "write_report", "DatasetRoot", "StorageError", "Settings", "ShardWriter", "filesystem_for",
    "get_settings", "iter_tar_members", "list_parts", "list_shards", "open_root", "read_marker",
    "read_members", "read_table", "split_uri", "write_marker", "write_part",
]
