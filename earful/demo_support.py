"""Simulated support work on the demo stream, so a seeded database looks lived in.

After `seed_demo` stores its history every queue item would still be open and
breached. `simulate_support` plays a support team through the demo items that
are older than a few hours: assignments, internal notes, manual replies with a
plausible reply URL, pending, snoozes (woken by the system), resolutions and
dismissals, with realistic delays (minutes for urgent items, hours for normal
ones, slower at night, a few late enough to breach the SLA). The newest items
stay untouched so the queue has live work with running SLA clocks.

Each item's plan is a pure function of `(seed, external_id)` and the item's
stored fields, and every step of it is written exactly as the queue API writes
it (`queue_items` columns, a `replies` row with status `manual`, `queue_notes`,
one `audit_log` row per action with before/after), only batched: thousands of
items take about a second. Steps later than `now` are left for a later run: an
item whose stored version and last change match its plan continues from there,
anything a person (or the queue itself) changed is never touched again. So
running it twice at the same `now` changes nothing. Only demo mentions
(`mentions.is_demo`) are touched.

The cut: this module holds what touches the database (the candidates' read,
the enqueue backdating, the batched writes) and the run itself; each item's
plan, the team and what it writes are in `earful.demo_support_plan`, a pure
function of what is read here. `FALLBACK_TEAM`, `Step`, `plan_item` and
`resume_at` are importable from here as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from earful.demo_support_plan import FALLBACK_TEAM as FALLBACK_TEAM
from earful.demo_support_plan import Step, _context, plan_item, resume_at
from earful.models import as_utc, utcnow
from earful.queue import SYSTEM_ACTOR, _audit, _snap
from earful.schema import audit_log, mentions, queue_items, queue_notes, replies

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from earful.config import Settings
    from earful.store import Store

RECENT = timedelta(hours=3)  # newer items stay open: live work for the demo
BATCH = 1000  # items per write transaction


@dataclass(slots=True)
class SupportStats:
    """What one run did."""

    items: int = 0  # items that got at least one step in this run
    steps: int = 0
    replies: int = 0
    notes: int = 0
    backdated: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


# -- applying plans in batches -------------------------------------------------------
_COLS = (
    queue_items,
    mentions.c.external_id,
    mentions.c.platform,
    mentions.c.url,
    mentions.c.author,
    mentions.c.matched,
    mentions.c.intent,
    mentions.c.raw,
    mentions.c.fetched_at,
)


def _candidates(conn: Connection) -> list[dict[str, Any]]:
    q = queue_items.c
    rows = conn.execute(
        sa.select(*_COLS)
        .join(mentions, mentions.c.id == q.mention_id)
        .where(mentions.c.is_demo.is_(True), q.status.in_(("open", "pending", "snoozed")))
        .order_by(q.mention_id)
    )
    return [dict(r._mapping) for r in rows]


def _backdate_enqueue(conn: Connection) -> int:
    """Untouched demo items say they were queued when their post was fetched.

    `seed_demo` stores 30 days of history in one go, so the queue stamps every
    item (and its `enqueue` audit row) with the seed time; the history it stands
    for was fetched, and queued, minutes after each post. Two set-based UPDATEs.
    """
    q, m = queue_items.c, mentions.c
    stale = (
        sa.select(q.mention_id)
        .join(mentions, m.id == q.mention_id)
        .where(m.is_demo.is_(True), q.version == 1, q.created_at > m.fetched_at)
    )
    conn.execute(
        audit_log.update()
        .where(
            audit_log.c.mention_id.in_(stale),
            audit_log.c.action == "enqueue",
            audit_log.c.actor == SYSTEM_ACTOR,
        )
        .values(at=sa.select(m.fetched_at).where(m.id == audit_log.c.mention_id).scalar_subquery())
    )
    fetched = sa.select(m.fetched_at).where(m.id == q.mention_id).scalar_subquery()
    res = conn.execute(
        queue_items.update()
        .where(q.mention_id.in_(stale.scalar_subquery()))
        .values(created_at=fetched, updated_at=fetched)
    )
    return int(res.rowcount or 0)


class _Batch:
    """Rows to write for a batch of items, collected then executed together."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        # audit rows waiting for their reply id: (index in audits, idempotency key)
        self.pending_ids: list[tuple[int, str]] = []

    def apply(self, item: dict[str, Any], steps: Sequence[Step]) -> None:
        mid = item["mention_id"]
        state = dict(item)
        for s in steps:
            if s.note is not None:
                at, text = s.note
                self.notes.append({"mention_id": mid, "author": s.actor, "at": at, "text": text})
                self.audits.append(_audit(at, s.actor, mid, "note", None, {"text": text}))
            if s.reply is not None:
                url, text = s.reply
                key = hashlib.sha256(f"manual\n{mid}\n{url}".encode()).hexdigest()
                self.replies.append(
                    {
                        "mention_id": mid,
                        "idempotency_key": key,
                        "text": text,
                        "status": "manual",
                        "reply_url": url,
                        "actor": s.actor,
                        "created_at": s.at,
                        "updated_at": s.at,
                    }
                )
                self.pending_ids.append((len(self.audits), key))
                self.audits.append(
                    _audit(s.at, s.actor, mid, "reply_manual", None, {"reply_url": url})
                )
            values = {
                **s.changes,
                "version": state["version"] + 1,
                "updated_by": s.actor,
                "updated_at": s.at,
            }
            self.audits.append(
                _audit(s.at, s.actor, mid, s.action, _snap(state), _snap({**s.changes, **values}))
            )
            state.update(values)
        self.updates.append(
            {
                "b_mid": mid,
                "b_version": item["version"],
                **{k: state[k] for k in _WRITTEN},
            }
        )

    def write(self, conn: Connection) -> int:
        """Execute; returns how many item updates matched (a concurrent change drops one)."""
        q = queue_items.c
        if not self.updates:
            return 0
        if self.replies:
            ids = {
                r.idempotency_key: r.id
                for r in conn.execute(
                    replies.insert().returning(replies.c.id, replies.c.idempotency_key),
                    self.replies,
                )
            }
            for i, key in self.pending_ids:
                self.audits[i]["after"] = {"reply_id": ids[key], **self.audits[i]["after"]}
        res = conn.execute(
            queue_items.update()
            .where(q.mention_id == sa.bindparam("b_mid"), q.version == sa.bindparam("b_version"))
            .values({k: sa.bindparam(k) for k in _WRITTEN}),
            self.updates,
        )
        if self.notes:
            conn.execute(queue_notes.insert(), self.notes)
        conn.execute(audit_log.insert(), self.audits)
        return int(res.rowcount or 0)


_WRITTEN = (
    "status",
    "assignee",
    "first_reply_at",
    "resolved_at",
    "snoozed_until",
    "version",
    "updated_by",
    "updated_at",
)


def simulate_support(
    store: Store,
    settings: Settings,
    *,
    seed: int = 7,
    now: datetime | None = None,
    recent: timedelta = RECENT,
    progress: Callable[[int, int], None] | None = None,
) -> SupportStats:
    """Play the support team through demo queue items waiting since before `now - recent`.

    Deterministic and idempotent (see the module docstring). `progress(done, total)`
    counts items.
    """
    now = as_utc(now or utcnow())
    cutoff = now - recent
    c = _context(settings)
    stats = SupportStats()
    with store.write() as conn:
        stats.backdated = _backdate_enqueue(conn)
    with store.read() as conn:
        items = _candidates(conn)
    total = max(1, len(items))
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        batch = _Batch()
        for item in chunk:
            if as_utc(item["waiting_since"]) >= cutoff:
                continue
            plan = plan_item(c, item, seed)
            k = resume_at(item, plan)
            if k is None:
                continue
            todo = [s for s in plan[k:] if s.at <= now]
            if not todo:
                continue
            batch.apply(item, todo)
            stats.items += 1
            stats.steps += len(todo)
            stats.replies += sum(1 for s in todo if s.reply)
            stats.notes += sum(1 for s in todo if s.note)
        with store.write() as conn:
            batch.write(conn)
        if progress is not None:
            progress(min(total, start + len(chunk)), total)
    with store.read() as conn:
        q = queue_items.c
        rows = conn.execute(
            sa.select(q.status, sa.func.count())
            .join(mentions, mentions.c.id == q.mention_id)
            .where(mentions.c.is_demo.is_(True))
            .group_by(q.status)
        )
        stats.by_status = {str(s): int(n) for s, n in rows}
    return stats


__all__ = ["RECENT", "Step", "SupportStats", "plan_item", "resume_at", "simulate_support"]
