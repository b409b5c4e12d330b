"""Asking again about the posts waiting in the reply queue: a post deleted at its source goes.

A search walk rarely reads a post again once it is stored, so a complaint
its author deleted would otherwise stay in the queue (and be answered, or
shown) for good. Every `recheck_every` (per source, default 15 minutes) the
worker that holds the source's lease asks the listener (`Listener.gone`)
about at most `LIMIT` of the source's mentions whose queue item still waits
(any status but resolved or dismissed) and that were written in the last
`WINDOW`; those reported gone are purged (`earful.purge`) in one write
transaction, with the time of the round.

This deletes data, so only definitive answers count: a listener raises on
anything ambiguous and the round purges nothing. A circuit breaker also
purges nothing when more than half of `BREAKER_MIN` or more posts come back
gone at once (a misconfigured `base_url` answering 404 to everything must
never empty the queue) and logs a warning.

What each source can tell is its listener's `deletions` sentence and `gone`
(Mastodon, Bluesky, Lemmy, X with a token, Reddit with OAuth). Hacker News
and RSS/Atom feeds have no recheck: Algolia's HN index keeps what it indexed
and gives no definitive "deleted" per item, and a feed entry cannot be looked
up by id (an entry leaving a feed says nothing about the post). Reddit's RSS
feed is the same, so without OAuth Reddit has no recheck either.

Due times are persisted in `cursors` under the reserved query key
`RECHECK_KEY` (`{"at": ISO, "after": mention id, "base": URL, "base_since":
ISO}`), so every worker sees them; `after` makes rounds walk through a queue
larger than `LIMIT` in turn. Mastodon and Lemmy ids are the instance's own:
after a source's `base_url` changes, only posts fetched since the change are
asked about (the old instance's ids mean other posts, or none, on the new one).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import SourceConfig
from earful.models import as_utc
from earful.purge import purge_mentions
from earful.schema import cursors, mentions, queue_items
from earful.store import Store
from listeners.base import Listener, SourceError, StoredPost

log = logging.getLogger(__name__)

RECHECK_KEY = "~recheck"  # a query key no listener uses ("~" is not in a query key)
LIMIT = 100  # posts asked about per source per round at most
WINDOW = timedelta(days=14)  # older waiting items are left alone
BREAKER_MIN = 10
CLOSED = ("resolved", "dismissed")  # queue statuses in which nobody waits any more
WHY = "deleted or removed at the source (recheck)"


def last_round(store: Store, source: str) -> dict[str, Any]:
    """The persisted state of the source's last round: {"at": ISO, "after": id} or {}."""
    with store.read() as conn:
        cur = conn.scalar(
            sa.select(cursors.c.cursor).where(
                cursors.c.source == source, cursors.c.query_key == RECHECK_KEY
            )
        )
    return cur if isinstance(cur, dict) else {}


def is_due(state: dict[str, Any], every: timedelta, now: datetime) -> bool:
    """Has `every` passed since the last round (or was there none)?"""
    try:
        at = as_utc(datetime.fromisoformat(str(state["at"])))
    except (KeyError, ValueError):
        return True
    return now - at >= every or at > now + every  # a round dated in the future: clock moved


def waiting_posts(
    conn: Connection,
    src: SourceConfig,
    now: datetime,
    limit: int,
    after: int = 0,
    fetched_since: datetime | None = None,
) -> tuple[list[StoredPost], int]:
    """Up to `limit` of the source's waiting posts, by mention id after `after`, wrapping
    around to the start; and the last id taken (where the next round goes on)."""
    m, q = mentions.c, queue_items.c
    since = m.fetched_at >= fetched_since if fetched_since is not None else sa.true()
    base = (
        sa.select(m.id, m.external_id, m.native_id, m.thread_id)
        .join(queue_items, q.mention_id == m.id)
        .where(
            m.source == src.key,
            m.platform == src.platform,
            q.status.not_in(CLOSED),
            m.created_at >= now - WINDOW,
            since,
        )
        .order_by(m.id)
    )
    rows = list(conn.execute(base.where(m.id > after).limit(limit)))
    if len(rows) < limit and after > 0:
        rows += conn.execute(base.where(m.id <= after).limit(limit - len(rows)))
    posts = [StoredPost(r.external_id, r.native_id, r.thread_id) for r in rows]
    return posts, int(rows[-1].id) if rows else 0


def _base_since(
    state: dict[str, Any], base_url: str, now: datetime
) -> tuple[str | None, datetime | None]:
    """Since when the source has read from `base_url` (None: as far as we know, always)."""
    if "base" in state and state["base"] != base_url:
        return now.isoformat(), now
    try:
        since = state.get("base_since")
        return since, as_utc(datetime.fromisoformat(since)) if since else None
    except (TypeError, ValueError):
        return None, None


def recheck_source(
    store: Store,
    listener: Listener,
    src: SourceConfig,
    now: datetime,
    *,
    limit: int = LIMIT,
    force: bool = False,
) -> str | None:
    """One round for `src` when due (or `force`): a one-line summary, or None when not run."""
    if not listener.rechecks():
        return None
    state = last_round(store, src.key)
    if not force and not is_due(state, src.recheck_every, now):
        return None
    try:
        after = int(state.get("after") or 0)
    except (TypeError, ValueError):
        after = 0
    base, since = _base_since(state, listener.base_url, now)
    with store.read() as conn:
        n = min(limit, listener.recheck_limit)
        posts, last = waiting_posts(conn, src, now, n, after, since)
    asked = {p.external_id for p in posts}
    gone: set[str] = set()
    problem = ""
    if posts:
        try:
            gone = set(listener.gone(posts)) & asked
        except SourceError as exc:
            problem = exc.message
        except Exception as exc:  # noqa: BLE001 - a listener bug must not kill the worker
            problem = f"{type(exc).__name__}: {exc}"
    if len(posts) >= BREAKER_MIN and len(gone) * 2 > len(posts):
        problem = f"{len(gone)} of {len(posts)} reported gone at once; check base_url"
        log.warning("recheck %s: purged nothing: %s", src.key, problem)
        gone = set()
    # the round's time is saved even when it failed: the next one waits `recheck_every`
    # (after a failed round the same posts come first again)
    new_state: dict[str, Any] = {"at": now.isoformat(), "after": after if problem else last}
    new_state |= {"base": listener.base_url, "base_since": base}
    with store.write() as conn:
        purged = purge_mentions(conn, src.platform, gone, now=now, why=WHY) if gone else 0
        store.set_cursor(conn, src.key, RECHECK_KEY, new_state, now)
    if problem:
        return f"recheck: {len(posts)} waiting posts asked about, nothing purged ({problem})"
    return f"recheck: {len(posts)} waiting posts asked about, {purged} deleted at the source purged"


def recheck_due(store: Store, listener: Listener, src: SourceConfig, now: datetime) -> str | None:
    """`recheck_source` for the worker: a round when due; never raises (a line says why)."""
    try:
        return recheck_source(store, listener, src, now)
    except Exception as exc:  # noqa: BLE001 - a recheck must never stop the polling
        log.warning("recheck %s failed: %s: %s", src.key, type(exc).__name__, exc)
        return f"recheck failed: {type(exc).__name__}: {exc}"


__all__ = [
    "LIMIT",
    "RECHECK_KEY",
    "WINDOW",
    "is_due",
    "last_round",
    "recheck_due",
    "recheck_source",
]
