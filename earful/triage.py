"""Intent, needs-reply, priority and the reply queue.

Placeholder: `classify` and `enqueue` define the interface; the triage issue
fills in the customer-service signals, the queue state machine and SLA clocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from earful.models import Mention

if TYPE_CHECKING:
    from earful.store import Store


@dataclass(frozen=True, slots=True)
class Triage:
    intent: str
    needs_reply: bool
    reason: str
    priority: float


def classify(text: str, compound: float | None, *, addressed: bool = False) -> Triage:
    """Intent and needs-reply for one text (VADER's compound is one input among several)."""
    if compound is not None and compound <= -0.05:
        return Triage("complaint", True, "negative tone", 50.0 + (10.0 if addressed else 0.0))
    if "?" in text:
        return Triage("question", True, "asks a question", 30.0)
    if compound is not None and compound >= 0.5:
        return Triage("praise", False, "praise", 5.0)
    return Triage("other", False, "no request", 0.0)


def band_for(priority: float) -> str:
    if priority >= 80:
        return "urgent"
    if priority >= 50:
        return "high"
    if priority >= 20:
        return "normal"
    return "low"


def enqueue(conn: Connection, store: Store, new: Sequence[tuple[int, Mention]], now: datetime) -> None:
    """Open a queue item for each new mention that needs a reply, or reopen its conversation's.

    Runs in the insert transaction; the state machine lives in `earful.queue`.
    """
    from earful.queue import enqueue_new  # late: earful.queue imports band_for from here

    enqueue_new(conn, store, new, now)
