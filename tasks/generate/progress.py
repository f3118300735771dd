"""A training progress bar on the terminal; the log lines stay the record (a bar is not a log).

tqdm's `disable=None` draws the bar only when the stream is a terminal, so Prefect workers, CI and
redirected output get the periodic log lines alone, and an interactive `persona-lens generate` gets both.
"""

from __future__ import annotations

import sys
from typing import IO

from tqdm.auto import tqdm


def training_bar(method: str, total: int, start: int = 0, file: IO[str] | None = None) -> tqdm:
    """A bar over training steps `start+1 … total` (a resumed run starts part-way)."""
    return tqdm(total=total, initial=start, desc=f"{method} training", unit="step", leave=False,
                disable=None, file=file if file is not None else sys.stderr, dynamic_ncols=True)
