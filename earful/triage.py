"""Triage's two entry points for the write path: `classify` and `enqueue`.

`classify` (intent, needs-reply, priority; from earful.intent) runs in the
pipeline's enrich step; `enqueue` runs in the store's insert transaction and
hands the new mentions to the reply queue (earful.queue_enqueue). The store
and the pipeline import this small module instead of the queue and intent
machinery, which keeps the import graph free of cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from earful.intent import Triage, band_for, classify
from earful.models import Mention

if TYPE_CHECKING:
    from earful.store import Store

# Intent, needs-reply, priority and bands live in earful.intent; re-exported here.
__all__ = ["Triage", "band_for", "classify", "enqueue"]


def enqueue(
    conn: Connection, store: Store, new: Sequence[tuple[int, Mention]], now: datetime
) -> None:
    """Open a queue item for each new mention that needs a reply, or reopen its conversation's.

    Runs in the insert transaction; the state machine lives in `earful.queue`.
    """
    from earful.queue import enqueue_new  # late: earful.queue imports band_for from here

    enqueue_new(conn, store, new, now)
