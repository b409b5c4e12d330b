"""Context around one mention for the reply queue: its thread and the author's earlier posts.

Both reads are bounded by `limit`. The thread is read through `ix_mentions_thread`
(platform + thread_id). The author's posts are read through the prefix of
`ix_mentions_author_thread` (platform + author + thread_id) and sorted. On SQLite
the time column is written `+created_at` there: without statistics SQLite's
planner otherwise walks `ix_mentions_platform_created_at` back from the post,
filtering by author, which took 23 s for an author with 5 posts among a million
mentions (0.1 ms through the author index; 60-140 ms for an author with 31,000).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from earful.schema import mentions
from earful.store import Store

_COLS = (
    mentions.c.id,
    mentions.c.platform,
    mentions.c.author,
    mentions.c.author_followers,
    mentions.c.text,
    mentions.c.url,
    mentions.c.created_at,
    mentions.c.label,
    mentions.c.intent,
)


def _mention(conn: sa.Connection, mention_id: int) -> Any:
    return conn.execute(
        sa.select(
            mentions.c.platform, mentions.c.thread_id, mentions.c.author, mentions.c.created_at
        ).where(mentions.c.id == mention_id)
    ).first()


def thread_for(store: Store, mention_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """Other known posts of the same thread (same platform and thread_id), oldest first."""
    with store.read() as conn:
        m = _mention(conn, mention_id)
        if m is None or not m.thread_id:
            return []
        rows = conn.execute(
            sa.select(*_COLS)
            .where(
                mentions.c.platform == m.platform,
                mentions.c.thread_id == m.thread_id,
                mentions.c.id != mention_id,
            )
            .order_by(mentions.c.created_at.asc(), mentions.c.id.asc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]


def author_history(store: Store, mention_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The same author's earlier posts on the same platform, newest first."""
    with store.read() as conn:
        m = _mention(conn, mention_id)
        if m is None or not m.author:
            return []
        when: Any = mentions.c.created_at
        if conn.dialect.name == "sqlite":  # unary plus: no index on it (see the docstring)
            when = sa.literal_column("+mentions.created_at", type_=mentions.c.created_at.type)
        rows = conn.execute(
            sa.select(*_COLS)
            .where(
                mentions.c.platform == m.platform,
                mentions.c.author == m.author,
                when <= m.created_at,
                mentions.c.id != mention_id,
            )
            .order_by(when.desc(), mentions.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]


__all__ = ["thread_for", "author_history"]
