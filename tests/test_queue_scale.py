"""The queue's conversation lookup at scale: a prolific author, a busy thread, the index it uses.

A new post's conversation is `(platform, thread_id, author)`; enqueue reads the
conversations' items by that whole key (`ix_mentions_author_thread`), so its
cost follows the conversations, not an author's history or a thread's size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from test_queue import mention as queue_mention

from earful import queue
from earful.config import settings_from_dict
from earful.queue_enqueue import (
    _ITEM_KEYS,
    _LOOKUP_CHUNK,
    _LOOKUPS,
    _PG_CONVERSATIONS,
    _SQLITE_CONVERSATIONS,
    _conversation_items,
    _generic_rows,
)
from earful.schema import mentions, queue_items

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG = {"brand": {"name": "Acme", "terms": ["acme"]}}
THREADS = 260  # the bot's threads
AUTHORS = 260  # the busy thread's authors: with the bot's, more keys than one generic chunk


def mention(ext, *, author, thread, priority=50.0, **kw):
    """test_queue's mention (a complaint that needs a reply), at priority 50."""
    return queue_mention(ext, author=author, thread=thread, priority=priority, **kw)


@pytest.fixture
def store(any_store):
    queue.attach_settings(any_store, settings_from_dict(CONFIG))
    return any_store


def _populate(store) -> None:
    """A bot posting in many threads, a busy thread with many authors, and the same
    thread and author names on another platform; some items dismissed, some resolved,
    and conversations holding several items (ties on created_at among them)."""
    batch = [mention(f"bot-{i}", author="bot", thread=f"t{i}") for i in range(THREADS)]
    batch += [mention(f"busy-{j}", author=f"u{j}", thread="busy") for j in range(AUTHORS)]
    batch += [mention(f"bot-busy-{k}", author="bot", thread="busy") for k in range(3)]
    batch += [mention("bot-3b", author="bot", thread="t3")]
    batch += [mention("bsky-bot", author="bot", thread="t1", platform="bluesky")]
    batch += [mention(f"nothread-{k}", author="bot", thread=None) for k in range(3)]
    store.save_page("src", "q", batch, None, now=T0)
    q = queue_items.c
    with store.write() as conn:
        ids = dict(conn.execute(sa.select(mentions.c.external_id, mentions.c.id)).all())
        dismissed = [ids[f"bot-{i}"] for i in range(0, THREADS, 7)]
        dismissed += [ids[f"busy-{j}"] for j in range(0, AUTHORS, 5)]
        resolved = [ids[f"bot-{i}"] for i in range(3, THREADS, 7)]
        for status, mids in (("dismissed", dismissed), ("resolved", resolved)):
            conn.execute(queue_items.update().where(q.mention_id.in_(mids)).values(status=status))
        # More items in two conversations (the posts joined the first item's conversation
        # in the batch): bot in "busy" has three live items, the two newest created at the
        # same instant (the higher mention id wins: resolved, the other open); bot in t3
        # has a newer, dismissed one.
        later = T0 + timedelta(hours=1)
        lo, hi = sorted(("bot-busy-1", "bot-busy-2"), key=ids.__getitem__)
        conn.execute(
            queue_items.insert(),
            [
                {"mention_id": ids[ext], "status": status, "created_at": later}
                | {"waiting_since": later, "priority": 50.0, "band": "high"}
                for ext, status in (
                    (lo, "open"),
                    (hi, "resolved"),
                    ("bot-3b", "dismissed"),
                )
            ],
        )


def _reference(conn, keys) -> dict[tuple[str, str, str], int]:
    """Each key's newest non-dismissed item by (created_at, mention_id), from every item."""
    q, m = queue_items.c, mentions.c
    rows = conn.execute(
        sa.select(m.platform, m.thread_id, m.author, q.created_at, q.mention_id)
        .join(mentions, m.id == q.mention_id)
        .where(q.status != "dismissed")
    ).all()
    best: dict[tuple[str, str, str], tuple[datetime, int]] = {}
    for p, t, a, created, mid in rows:
        key = (p, t, a)
        if key in keys and (key not in best or (created, mid) > best[key]):
            best[key] = (created, mid)
    return {k: mid for k, (_, mid) in best.items()}


def _keys() -> set[tuple[str, str, str]]:
    keys = {("mastodon", f"t{i}", "bot") for i in range(THREADS)}
    keys |= {("mastodon", "busy", f"u{j}") for j in range(AUTHORS)}
    keys |= {("mastodon", "busy", "bot"), ("bluesky", "t1", "bot"), ("bluesky", "busy", "u1")}
    keys |= {("mastodon", "t1", "u1"), ("mastodon", "nowhere", "bot")}  # no item
    return keys


def test_lookup_finds_each_conversations_newest_item_on_every_path(store):
    _populate(store)
    keys = _keys()
    assert len(keys) > _LOOKUP_CHUNK  # the generic path runs more than one statement
    with store.read() as conn:
        expected = _reference(conn, keys)
        found = _conversation_items(conn, keys)
        fast = list(_LOOKUPS[conn.dialect.name](conn, sorted(keys)))
        generic = list(_generic_rows(conn, sorted(keys)))
    assert {k: v["mention_id"] for k, v in found.items()} == expected
    with store.read() as conn:
        ids = dict(conn.execute(sa.select(mentions.c.external_id, mentions.c.id)).all())
    # bot's threads but the dismissed seventh, the busy thread's authors but the dismissed
    # fifth, bot in the busy thread, bot on bluesky
    assert len(expected) == (THREADS - 38) + (AUTHORS - 52) + 1 + 1
    assert expected[("mastodon", "busy", "bot")] == max(ids["bot-busy-1"], ids["bot-busy-2"])
    assert found[("mastodon", "busy", "bot")]["status"] == "resolved"
    assert found[("mastodon", "busy", "bot")]["created_at"] == T0 + timedelta(hours=1)
    assert expected[("mastodon", "t3", "bot")] == ids["bot-3"]  # the newer item is dismissed
    assert found[("mastodon", "t3", "bot")]["status"] == "resolved"
    assert found[("bluesky", "t1", "bot")]["mention_id"] == ids["bsky-bot"]
    assert ("mastodon", "t0", "bot") not in found and ("mastodon", "t1", "u1") not in found

    def per_key(rows):  # each conversation's rows, in the order the reduction sees them
        out: dict[tuple, list] = {}
        for r in rows:
            out.setdefault((r[-3], r[-2], r[-1]), []).append(tuple(r[: len(_ITEM_KEYS)]))
        return out

    assert per_key(generic) == per_key(fast)
    assert sum(map(len, per_key(fast).values())) == len(fast)


def test_enqueue_with_a_prolific_author_and_a_busy_thread(store):
    _populate(store)
    with store.read() as conn:
        ids = dict(conn.execute(sa.select(mentions.c.external_id, mentions.c.id)).all())
    later = T0 + timedelta(hours=2)
    new = store.save_page(
        "src",
        "q",
        [
            mention("bot-t10-again", author="bot", thread="t10", at=later, needs=False),
            mention("bot-t7-again", author="bot", thread="t7", at=later),  # t7's is dismissed
            mention("u3-again", author="u3", thread="busy", at=later, priority=90.0),
            mention("newcomer", author="zed", thread="busy", at=later),
            mention("bot-bsky", author="bot", thread="t2", at=later, platform="bluesky"),
            mention("bot-busy-again", author="bot", thread="busy", at=later, needs=False),
        ],
        None,
        now=later,
    ).inserted_ids

    def item(ext):
        return queue.get_item(store, ids[ext], now=later)

    assert (item("bot-10")["status"], item("bot-10")["waiting_since"]) == ("open", later)
    assert item("bot-17")["status"] == "resolved"  # the bot's other threads stay as they were
    assert queue.get_item(store, new[0]) is None  # joined bot-10's conversation
    assert item("bot-7")["status"] == "dismissed"
    assert queue.get_item(store, new[1])["status"] == "open"  # a new item: t7's was dismissed
    assert queue.get_item(store, new[2]) is None  # u3's item in the busy thread, raised
    assert (item("busy-3")["priority"], item("busy-3")["band"]) == (90.0, "urgent")
    assert [item(f"busy-{j}")["priority"] for j in (1, 2, 4)] == [50.0] * 3  # others stay
    assert queue.get_item(store, new[3])["status"] == "open"  # zed: a new conversation
    assert queue.get_item(store, new[4])["status"] == "open"  # bluesky is its own platform
    assert queue.get_item(store, new[5]) is None
    # bot's newest item in the busy thread (resolved; its twin, open, has a lower id) reopens
    newest, other = sorted((ids["bot-busy-1"], ids["bot-busy-2"]), reverse=True)
    assert queue.get_item(store, newest, now=later)["status"] == "open"
    assert queue.get_item(store, newest, now=later)["waiting_since"] == later
    assert queue.get_item(store, other, now=later)["waiting_since"] == T0 + timedelta(hours=1)
    assert item("bot-busy-0")["waiting_since"] == T0
    with store.read() as conn:
        reopened = conn.scalars(
            sa.text("SELECT mention_id FROM audit_log WHERE action = 'reopen' ORDER BY mention_id")
        ).all()
    assert reopened == sorted([ids["bot-10"], newest])


def test_sqlite_lookup_probes_the_conversation_index(sqlite_store):
    _populate(sqlite_store)
    with sqlite_store.read() as conn:
        plan = [
            r[-1]
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + _SQLITE_CONVERSATIONS, ('[["mastodon","t1","bot"]]',)
            )
        ]
    assert any(
        "ix_mentions_author_thread (platform=? AND author=? AND thread_id=?)" in p for p in plan
    ), plan
    assert not any(
        p.startswith("SCAN mentions") or p.startswith("SCAN queue_items") for p in plan
    ), plan


def test_postgres_lookup_probes_the_conversation_index(pg_url):
    # Threads of 200 posts on average by 2,000 authors: probing (platform, thread_id)
    # would read a thread's posts to find one author's; the plan probes the whole key.
    from earful.store import Store

    store = Store(pg_url)
    store.upgrade()
    with store.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO mentions (platform, external_id, author, created_at, fetched_at,"
            " matched, label, thread_id) SELECT 'mastodon', 'x' || i, 'a' || mod(i * 7, 2000),"
            " now(), now(), 'Acme', 'negative', 't' || mod(i, 100)"
            " FROM generate_series(1, 20000) AS i"
        )
        conn.exec_driver_sql(
            "INSERT INTO queue_items (mention_id, created_at, waiting_since)"
            " SELECT id, created_at, created_at FROM mentions WHERE mod(id, 3) = 0"
        )
        conn.exec_driver_sql("ANALYZE")
    with store.read() as conn:
        keys = (["mastodon"] * 3, ["t1", "t2", "t3"], ["a7", "a14", "a21"])
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + _PG_CONVERSATIONS, keys))
    store.engine.dispose()
    probe = plan.split("Index Scan using ix_mentions_author_thread on mentions")[1]
    cond = probe.split("Index Cond: ")[1].splitlines()[0]  # the whole key, not a prefix
    assert all(f"{c} = k.{c}" in cond for c in ("author", "thread_id")), plan
    assert "(platform)::text = k.platform" in cond, plan
    assert "Seq Scan on mentions" not in plan, plan
