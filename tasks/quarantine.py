"""Quarantine rows: a bad *item* becomes a row with a stable reason code; the good items still land."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from persona_lens.schemas import QUARANTINE


def quarantine_row(stage: str, source: str, reason: str, detail: str, now: dt.datetime | None = None) -> dict:
    """One `quarantine` row: which stage refused which item (`source`), with a reason code and details."""
    return {"stage": stage, "source": source, "reason": reason, "detail": detail,
            "quarantined_at": now or dt.datetime.now(dt.timezone.utc)}


def quarantine_table(rows: list[dict]) -> pa.Table:
    """The rows as a validated `quarantine` table (empty, but typed, when there are none)."""
    return QUARANTINE.from_rows(rows) if rows else QUARANTINE.empty()
