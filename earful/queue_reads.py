"""The read side of the reply queue: listing, counting and showing items, their audit and notes.

`list_queue`, `count_queue`, `get_item`, `audit_for` and `notes_for`, with the
join of queue rows to their mentions (`_joined`) and the SLA fields every read
adds (`_decorate`). The cut is here because nothing in this module writes:
pages read through it, and it depends only on the SLA clock in
`earful.queue_rules`, never on the actions in `earful.queue`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from earful.config import Settings
from earful.models import as_utc, utcnow
from earful.queue_rules import effective_status, sla_state, sla_target
from earful.schema import audit_log, mentions, queue_items, queue_notes

if TYPE_CHECKING:
    from earful.store import Store


# -- reads ---------------------------------------------------------------------
_MENTION_COLS = (
    mentions.c.platform,
    mentions.c.external_id,
    mentions.c.native_id,
    mentions.c.source,
    mentions.c.url,
    mentions.c.author,
    mentions.c.author_followers,
    mentions.c.text,
    mentions.c.created_at.label("posted_at"),
    mentions.c.lang,
    mentions.c.in_reply_to,
    mentions.c.thread_id,
    mentions.c.matched,
    mentions.c.label,
    mentions.c.compound,
    mentions.c.intent,
    mentions.c.reason,
    mentions.c.engagement,
)


def _joined() -> sa.Select[Any]:
    return sa.select(queue_items, *_MENTION_COLS).join(
        mentions, mentions.c.id == queue_items.c.mention_id
    )


def _decorate(row: Any, now: datetime, settings: Settings | None) -> dict[str, Any]:
    item = dict(row._mapping)
    item["stored_status"] = item["status"]
    item["status"] = effective_status(item, now)
    if item.get("sla_due_at") is None and settings is not None:
        item["sla_due_at"] = as_utc(item["waiting_since"]) + sla_target(settings.sla, item["band"])
    left, breached = sla_state(item, now)
    item["sla_seconds_left"] = left
    item["sla_breached"] = breached
    return item


def get_item(
    store: Store, mention_id: int, *, now: datetime | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The queue row plus the mention's fields (`posted_at` is the post time) and SLA fields."""
    now = now or utcnow()
    with store.read() as conn:
        row = conn.execute(_joined().where(queue_items.c.mention_id == mention_id)).first()
        if row is None:
            return None
        item = _decorate(row, now, settings)
        latest = None
        if item.get("thread_id"):
            latest = conn.execute(
                sa.select(mentions.c.id, mentions.c.text, mentions.c.url, mentions.c.created_at)
                .where(
                    mentions.c.platform == item["platform"],
                    mentions.c.thread_id == item["thread_id"],
                    mentions.c.author == item["author"],
                )
                .order_by(mentions.c.created_at.desc())
                .limit(1)
            ).first()
        # The newest post of this conversation: the one a reply should answer.
        item["latest_mention_id"] = int(latest.id) if latest is not None else mention_id
        return item


def list_queue(
    store: Store,
    *,
    statuses: Iterable[str] = ("open",),
    assignee: str | None = None,
    platform: str | None = None,
    intent: str | None = None,
    breached_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Queue items with mention and SLA fields, highest priority first, then longest waiting.

    Status filters use the effective status (an expired snooze counts as open).
    Each stored status is read on its own, in `ix_queue_order`'s order, for no
    more rows than the page needs; the streams are merged here. One query over
    all of them (`status = 'open' OR ...`) had the database sort every item of
    those statuses first: 1.4 s with 320,000 open items, against 0.3 ms.
    """
    now = now or utcnow()
    wanted = set(statuses)
    qi = queue_items.c
    arms: list[Any] = [qi.status == s for s in sorted(wanted - {"open", "snoozed"})]
    if "open" in wanted:
        arms.append(qi.status == "open")
    if {"open", "snoozed"} <= wanted:
        arms.append(qi.status == "snoozed")
    elif "open" in wanted:  # an expired snooze counts as open
        arms.append(sa.and_(qi.status == "snoozed", qi.snoozed_until <= now))
    elif "snoozed" in wanted:
        arms.append(sa.and_(qi.status == "snoozed", qi.snoozed_until > now))
    conds: list[Any] = []
    if assignee is not None:
        conds.append(qi.assignee == assignee)
    if platform is not None:
        conds.append(mentions.c.platform == platform)
    if intent is not None:
        conds.append(mentions.c.intent == intent)
    if breached_only:
        conds += [
            sa.or_(qi.status == "open", qi.status == "snoozed"),
            qi.sla_due_at < now,
            sa.or_(qi.first_reply_at.is_(None), qi.first_reply_at < qi.waiting_since),
        ]
    rows: list[Any] = []
    with store.read() as conn:
        for arm in arms:
            q = (
                _joined()
                .where(arm, *conds)
                .order_by(qi.priority.desc(), qi.waiting_since.asc(), qi.mention_id.asc())
                .limit(offset + limit)
            )
            rows += conn.execute(q).all()
    rows.sort(key=lambda r: (-r.priority, as_utc(r.waiting_since), r.mention_id))
    return [_decorate(r, now, settings) for r in rows[offset : offset + limit]]


def count_queue(
    store: Store, *, statuses: Iterable[str] = ("open",), now: datetime | None = None
) -> int:
    """How many items have these stored statuses (plus expired snoozes when counting open)."""
    now = now or utcnow()
    wanted = sorted(set(statuses))
    qi = queue_items.c
    cond: Any = qi.status.in_(wanted)
    if "open" in wanted and "snoozed" not in wanted:
        cond = sa.or_(cond, sa.and_(qi.status == "snoozed", qi.snoozed_until <= now))
    with store.read() as conn:
        return int(
            conn.scalar(sa.select(sa.func.count()).select_from(queue_items).where(cond)) or 0
        )


def audit_for(store: Store, mention_id: int) -> list[dict[str, Any]]:
    """Audit rows for one item, oldest first."""
    return _rows_for(store, audit_log, mention_id)


def notes_for(store: Store, mention_id: int) -> list[dict[str, Any]]:
    """Internal notes for one item, oldest first."""
    return _rows_for(store, queue_notes, mention_id)


def _rows_for(store: Store, table: sa.Table, mention_id: int) -> list[dict[str, Any]]:
    """One item's rows of an append-only table (`at`, `id`), oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(table)
            .where(table.c.mention_id == mention_id)
            .order_by(table.c.at, table.c.id)
        )
        return [dict(r._mapping) for r in rows]
