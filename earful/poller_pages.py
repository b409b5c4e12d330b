"""A listener's pages between the fetch and the write: enriched, then held for a group commit.

Part of `earful.poller`. `enrich_page` runs the pipeline over one page and
never lets one bad post abort it (the page is retried one mention at a time,
and the culprits are counted as malformed). `_Pending` holds enriched pages
until a write is due: the row bound is passed in (`earful.poller.write_group`,
EARFUL_WRITE_GROUP), the text and time bounds are its own.

The cut is here because both are pure in-memory steps with their resources
passed in (the pipeline, the row bound): the poller keeps the walk, the
transaction that writes a group with its cursor and the lease renewal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from earful.models import Mention
from earful.pipeline import Pipeline

# Bounds of a group besides its row count (earful.poller.GROUP_ROWS): whichever comes first.
GROUP_CHARS = 8_000_000  # text held in memory before a write
GROUP_SECONDS = 2.0  # a slow walk still shows up on the dashboard every few seconds


def enrich_page(
    pipeline: Pipeline, batch: list[Mention], source: str
) -> tuple[list[Mention], int, int]:
    """(kept, off-topic dropped, malformed) -- one bad post never aborts the batch.

    Mentions without a source are tagged with this one in the enriched copy
    (fetched_at defaults to the write time in the store)."""
    try:
        kept, dropped = pipeline.enrich_all(batch, source)
        return kept, dropped, 0
    except Exception:  # noqa: BLE001 - fall back to one at a time and count the culprits
        kept, dropped, bad = [], 0, 0
        for m in batch:
            try:
                e = pipeline.enrich(m, source)
            except Exception:  # noqa: BLE001
                bad += 1
                continue
            if e is None:
                dropped += 1
            else:
                kept.append(e)
        return kept, dropped, bad


class _Pending:
    """Enriched pages waiting to be written together with the newest of their cursors.

    One transaction per page made SQLite's commit (every dirty index page
    written to the WAL) the largest cost of a backfill; a group of pages
    shares it. A crash loses only unwritten pages, whose cursor was not
    written either, so the next run fetches them again.
    """

    __slots__ = ("rows", "mentions", "cursor", "pages", "chars", "since", "gone")

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.mentions: list[Mention] = []
        self.cursor: dict[str, Any] | None = None
        self.pages = 0
        self.chars = 0
        self.since = 0.0
        self.gone: list[str] = []  # ids the listener saw deleted at the source: purged

    def add(
        self, kept: list[Mention], cursor: dict[str, Any] | None, gone: Sequence[str] = ()
    ) -> None:
        if not self.pages:
            self.since = time.monotonic()
        self.mentions += kept
        self.gone += gone
        self.chars += sum(len(m.text) for m in kept)
        if cursor is not None:  # a page without a cursor leaves the cursor where it is
            self.cursor = cursor
        self.pages += 1

    def full(self) -> bool:
        return (
            len(self.mentions) >= self.rows
            or self.chars >= GROUP_CHARS
            or time.monotonic() - self.since >= GROUP_SECONDS
        )

    def take(self) -> tuple[list[Mention], dict[str, Any] | None, int, list[str]]:
        """The group, leaving this empty (so a failed write is not retried by `finally`)."""
        out = (self.mentions, self.cursor, self.pages, self.gone)
        self.mentions, self.cursor, self.pages, self.chars, self.gone = [], None, 0, 0, []
        return out
