"""Reply queue: state machine, reopen on a new post, SLA with fixed clocks, audit, stale writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from earful import queue
from earful.config import settings_from_dict
from earful.models import QUEUE_STATUSES, Mention

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG = {
    "brand": {"name": "Acme", "terms": ["acme"], "handles": ["@acme"]},
    "sla": {"urgent": "1h", "high": "4h", "normal": "24h", "low": "72h"},
    "canned_replies": [
        {"name": "Sorry", "text": "Hi {author}, sorry! The {brand} team is on it. {ticket}"}
    ],
}


def mention(ext: str, *, at=T0, author="alice", thread="t1", needs=True, priority=60.0, **kw):
    base = dict(
        platform="mastodon",
        external_id=ext,
        url=f"https://example.test/{ext}",
        author=author,
        text=f"acme post {ext}",
        created_at=at,
        thread_id=thread,
        matched="Acme",
        label="negative",
        compound=-0.5,
        intent="complaint",
        needs_reply=needs,
        reason="test",
        priority=priority,
    )
    base.update(kw)
    return Mention(**base)


def save(store, *ms, now=None):
    return store.save_page("src", "q", list(ms), None, now=now or T0).inserted_ids


@pytest.fixture
def store(any_store):
    queue.attach_settings(any_store, settings_from_dict(CONFIG))
    return any_store


def test_enqueue_sets_waiting_since_and_sla_due_from_band(store):
    (a,) = save(store, mention("a", priority=60.0), now=T0 + timedelta(minutes=5))
    (b,) = save(store, mention("b", needs=False, thread="t2"))
    item = queue.get_item(store, a, now=T0 + timedelta(hours=1))
    assert item["status"] == "open" and item["band"] == "high"
    assert item["waiting_since"] == T0
    assert item["sla_due_at"] == T0 + timedelta(hours=4)
    assert item["author"] == "alice" and item["posted_at"] == T0
    assert queue.get_item(store, b) is None
    assert [r["action"] for r in queue.audit_for(store, a)] == ["enqueue"]


def test_sla_state_with_fixed_clocks(store):
    (a,) = save(store, mention("a", priority=60.0))
    item = queue.get_item(store, a, now=T0)
    assert queue.sla_state(item, T0 + timedelta(hours=3)) == (3600.0, False)
    left, breached = queue.sla_state(item, T0 + timedelta(hours=5))
    assert left == -3600.0 and breached
    # the clock stops at the first reply
    replied = {**item, "status": "pending", "first_reply_at": T0 + timedelta(hours=2)}
    assert queue.sla_state(replied, T0 + timedelta(days=3)) == (7200.0, False)
    late = {**item, "status": "pending", "first_reply_at": T0 + timedelta(hours=6)}
    assert queue.sla_state(late, T0 + timedelta(days=3)) == (-7200.0, True)
    # resolved without a reply: stops at resolution
    res = {**item, "status": "resolved", "resolved_at": T0 + timedelta(hours=1)}
    assert queue.sla_state(res, T0 + timedelta(days=3)) == (3 * 3600.0, False)


def test_breached_only_filter_and_priority_order(store):
    ids = save(
        store,
        mention("low", thread="x1", priority=10.0, at=T0),  # low: 72h
        mention("urg", thread="x2", priority=90.0, at=T0),  # urgent: 1h
        mention("hi", thread="x3", priority=60.0, at=T0),  # high: 4h
    )
    now = T0 + timedelta(hours=2)
    listed = queue.list_queue(store, now=now)
    assert [i["mention_id"] for i in listed] == [ids[1], ids[2], ids[0]]
    breached = queue.list_queue(store, breached_only=True, now=now)
    assert [i["mention_id"] for i in breached] == [ids[1]]
    assert breached[0]["sla_breached"] and breached[0]["sla_seconds_left"] == -3600.0


def test_status_transitions_and_audit(store):
    (a,) = save(store, mention("a"))
    it = queue.get_item(store, a, now=T0)
    it = queue.set_status(store, a, "pending", actor="sam", expected_version=it["version"], now=T0)
    assert it["status"] == "pending" and it["version"] == 2 and it["updated_by"] == "sam"
    it = queue.set_status(
        store, a, "resolved", actor="sam", expected_version=2, now=T0 + timedelta(hours=1)
    )
    assert it["resolved_at"] == T0 + timedelta(hours=1)
    it = queue.set_status(
        store, a, "open", actor="alex", expected_version=3, now=T0 + timedelta(hours=2)
    )
    assert it["resolved_at"] is None and it["waiting_since"] == T0 + timedelta(hours=2)
    assert it["sla_due_at"] == T0 + timedelta(hours=6)  # same 4h target, new wait
    with pytest.raises(ValueError):
        queue.set_status(store, a, "closed", actor="x", expected_version=4)
    log = queue.audit_for(store, a)
    assert [(r["action"], r["actor"]) for r in log] == [
        ("enqueue", "earful"),
        ("status", "sam"),
        ("status", "sam"),
        ("status", "alex"),
    ]
    assert log[1]["before"]["status"] == "open" and log[1]["after"]["status"] == "pending"
    assert log[3]["before"]["version"] == 3 and log[3]["after"]["version"] == 4


def test_snooze_wakes_on_read_and_by_wake_snoozed(store):
    (a,) = save(store, mention("a"))
    until = T0 + timedelta(hours=1)
    with pytest.raises(ValueError):
        queue.set_status(store, a, "snoozed", actor="sam", expected_version=1, now=T0)
    queue.set_status(
        store, a, "snoozed", actor="sam", expected_version=1, snoozed_until=until, now=T0
    )
    assert queue.list_queue(store, now=T0 + timedelta(minutes=30)) == []
    assert len(queue.list_queue(store, statuses=("snoozed",), now=T0 + timedelta(minutes=30))) == 1
    later = T0 + timedelta(hours=2)
    woke = queue.list_queue(store, now=later)
    assert [i["status"] for i in woke] == ["open"] and woke[0]["stored_status"] == "snoozed"
    assert queue.list_queue(store, statuses=("snoozed",), now=later) == []
    assert queue.wake_snoozed(store, T0 + timedelta(minutes=30)) == 0
    assert queue.wake_snoozed(store, later) == 1
    item = queue.get_item(store, a, now=later)
    assert item["stored_status"] == "open" and item["snoozed_until"] is None
    assert queue.audit_for(store, a)[-1]["action"] == "wake"


def test_stale_version_raises_with_who_and_when(store):
    (a,) = save(store, mention("a"))
    queue.assign(
        store, a, "priya", actor="priya", expected_version=1, now=T0 + timedelta(minutes=1)
    )
    with pytest.raises(queue.StaleItem) as exc:
        queue.assign(
            store, a, "sam", actor="sam", expected_version=1, now=T0 + timedelta(minutes=2)
        )
    cur = exc.value.current
    assert cur["assignee"] == "priya" and cur["version"] == 2 and cur["updated_by"] == "priya"
    assert cur["updated_at"] == T0 + timedelta(minutes=1)
    assert "changed by priya at 2026-11-02 09:01" in str(exc.value)
    with pytest.raises(queue.StaleItem):
        queue.set_status(store, a, "resolved", actor="sam", expected_version=1)
    item = queue.get_item(store, a)
    assert item["assignee"] == "priya" and item["status"] == "open"  # nothing overwritten
    assert len(queue.audit_for(store, a)) == 2
    with pytest.raises(queue.ItemNotFound):
        queue.assign(store, 9999, "x", actor="x", expected_version=1)


def test_new_post_by_same_author_in_thread_reopens_resolved_item(store):
    (a,) = save(store, mention("a", at=T0))
    queue.set_status(
        store, a, "resolved", actor="sam", expected_version=1, now=T0 + timedelta(hours=1)
    )
    # same thread, other author: its own item; the resolved one stays resolved
    (other,) = save(store, mention("b", at=T0 + timedelta(hours=2), author="bob"))
    assert queue.get_item(store, a)["status"] == "resolved"
    assert queue.get_item(store, other)["status"] == "open"
    # same author, same thread, later: reopens, no second item even though it needs no reply
    later = T0 + timedelta(hours=3)
    (c,) = save(store, mention("c", at=later, needs=False), now=later)
    item = queue.get_item(store, a, now=later)
    assert item["status"] == "open" and item["resolved_at"] is None
    assert item["waiting_since"] == later and item["sla_due_at"] == later + timedelta(hours=4)
    assert item["latest_mention_id"] == c
    assert queue.get_item(store, c) is None
    reopen = queue.audit_for(store, a)[-1]
    assert reopen["action"] == "reopen" and reopen["after"]["by_mention_id"] == c
    assert reopen["before"]["status"] == "resolved"


def test_older_backfilled_post_does_not_reopen_and_dismissed_stays(store):
    (a,) = save(store, mention("a", at=T0))
    queue.set_status(
        store, a, "resolved", actor="sam", expected_version=1, now=T0 + timedelta(hours=5)
    )
    save(store, mention("old", at=T0 + timedelta(hours=1), needs=False))
    assert queue.get_item(store, a)["status"] == "resolved"
    (d,) = save(store, mention("d", at=T0, thread="t9"))
    queue.set_status(store, d, "dismissed", actor="sam", expected_version=1, now=T0)
    (e,) = save(store, mention("e", at=T0 + timedelta(hours=1), thread="t9"))
    assert queue.get_item(store, d)["status"] == "dismissed"
    assert queue.get_item(store, e)["status"] == "open"  # a dismissed item is not the conversation


def test_filters_notes_and_pagination(store):
    save(
        store,
        mention("a", thread="1", platform="bluesky", intent="question"),
        mention("b", thread="2"),
        mention("c", thread="3"),
    )
    items = queue.list_queue(store, now=T0)
    queue.assign(store, items[0]["mention_id"], "sam", actor="sam", expected_version=1, now=T0)
    assert len(queue.list_queue(store, assignee="sam", now=T0)) == 1
    assert [i["platform"] for i in queue.list_queue(store, platform="bluesky", now=T0)] == [
        "bluesky"
    ]
    assert len(queue.list_queue(store, intent="question", now=T0)) == 1
    assert len(queue.list_queue(store, limit=2, now=T0)) == 2
    assert len(queue.list_queue(store, limit=2, offset=2, now=T0)) == 1
    assert queue.list_queue(store, statuses=(), now=T0) == []
    assert queue.count_queue(store, now=T0) == 3
    mid = items[1]["mention_id"]
    queue.add_note(store, mid, "  customer is on the enterprise plan ", actor="alex", now=T0)
    with pytest.raises(ValueError):
        queue.add_note(store, mid, "   ", actor="alex")
    notes = queue.notes_for(store, mid)
    assert [(n["author"], n["text"]) for n in notes] == [
        ("alex", "customer is on the enterprise plan")
    ]
    assert queue.audit_for(store, mid)[-1]["action"] == "note"


def test_canned_replies_from_config_and_table(store):
    settings = settings_from_dict(CONFIG)
    queue.save_canned(store, "Thanks", "Thanks {author} from {brand}", actor="sam", now=T0)
    queue.save_canned(store, "Sorry", "Replaced text for {author}", actor="sam", now=T0)
    got = dict(queue.canned_replies(store, settings))
    assert got == {"Sorry": "Replaced text for {author}", "Thanks": "Thanks {author} from {brand}"}
    text = CONFIG["canned_replies"][0]["text"]
    assert (
        queue.render_canned(text, author="@alice", brand="Acme")
        == "Hi @alice, sorry! The Acme team is on it. {ticket}"
    )
    assert queue.render_canned("{ {author} {0} }}{", author="a", brand="b") == "{ a {0} }}{"


def test_sla_defaults_without_attached_settings(sqlite_store):
    (a,) = save(sqlite_store, mention("a", priority=10.0))
    assert queue.get_item(sqlite_store, a)["sla_due_at"] == T0 + timedelta(hours=72)


def test_one_batch_reopens_and_raises_priority_like_one_post_at_a_time(store):
    # Three conversations of alice, one batch of later posts: the writes are batched,
    # the result is what one post at a time would give.
    a, b, c = save(
        store,
        mention("a", thread="t1", priority=30.0),
        mention("b", thread="t2", priority=30.0),
        mention("c", thread="t3", priority=30.0),
    )
    queue.set_status(store, a, "resolved", actor="sam", expected_version=1, now=T0)
    queue.set_status(store, c, "dismissed", actor="sam", expected_version=1, now=T0)
    later = T0 + timedelta(hours=1)
    new = save(
        store,
        mention("a2", at=later, thread="t1", needs=False),  # reopens a (resolved)
        mention("a3", at=later + timedelta(minutes=1), thread="t1", priority=85.0),  # raises a
        mention("b2", at=later, thread="t2", priority=55.0),  # raises b (open)
        mention("b3", at=later, thread="t2", priority=40.0),  # lower: b stays at 55
        mention("c2", at=later, thread="t3", priority=20.0),  # c dismissed: a new item
        mention("x", at=later, thread="t1", author="bob", needs=False),  # other author: nothing
        now=later,
    )
    ia = queue.get_item(store, a, now=later)
    assert (ia["status"], ia["priority"], ia["band"]) == ("open", 85.0, "urgent")
    assert ia["waiting_since"] == later and ia["version"] == 3
    assert [r["action"] for r in queue.audit_for(store, a)] == ["enqueue", "status", "reopen"]
    ib = queue.get_item(store, b, now=later)
    assert (ib["status"], ib["priority"], ib["band"], ib["version"]) == ("open", 55.0, "high", 1)
    assert queue.get_item(store, c)["status"] == "dismissed"
    c2 = new[4]
    assert queue.get_item(store, c2)["status"] == "open"
    assert [queue.get_item(store, m) for m in (new[0], new[1], new[2], new[3], new[5])] == [
        None
    ] * 5


def test_list_queue_merges_statuses_in_one_order_with_offsets(store):
    # 40 items over every status, priorities with ties, snoozes expired and not
    import random

    rng = random.Random(3)
    ids = save(
        store,
        *[
            mention(
                f"m{i}",
                thread=f"t{i}",
                priority=float(rng.choice((20, 45, 45, 70, 90))),
                at=T0 - timedelta(minutes=rng.randint(0, 5) * 7),
            )
            for i in range(40)
        ],
    )
    now = T0 + timedelta(hours=2)
    for k, mid in enumerate(ids):
        status = ("open", "pending", "resolved", "snoozed", "snoozed", "dismissed")[k % 6]
        if status == "open":
            continue
        until = T0 + timedelta(hours=1 if k % 12 == 3 else 5) if status == "snoozed" else None
        queue.set_status(
            store, mid, status, actor="sam", expected_version=1, snoozed_until=until, now=T0
        )
    every = queue.list_queue(store, statuses=QUEUE_STATUSES, limit=1000, now=now)
    assert len(every) == 40

    def key(it):
        return (-it["priority"], it["waiting_since"], it["mention_id"])

    for wanted in (["open"], ["snoozed"], ["open", "snoozed"], ["pending", "resolved"], []):
        want = sorted((it for it in every if it["status"] in wanted), key=key)
        for offset, limit in ((0, 50), (0, 3), (2, 4), (7, 5)):
            got = queue.list_queue(store, statuses=wanted, limit=limit, offset=offset, now=now)
            assert [g["mention_id"] for g in got] == [
                w["mention_id"] for w in want[offset : offset + limit]
            ], (wanted, offset, limit)
    # an expired snooze counts as open, a running one does not
    opened = {it["mention_id"] for it in queue.list_queue(store, limit=100, now=now)}
    assert any(it["stored_status"] == "snoozed" for it in every if it["mention_id"] in opened)


def test_queue_page_is_read_off_the_order_index(sqlite_store):
    # No sort of every open item: the first page comes straight off ix_queue_order.
    from sqlalchemy import event

    queue.attach_settings(sqlite_store, settings_from_dict(CONFIG))
    save(
        sqlite_store, *[mention(f"m{i}", thread=f"t{i}", priority=float(i % 7)) for i in range(60)]
    )
    seen = []

    def grab(_c, _cur, statement, params, _ctx, _many):
        seen.append((statement, params))

    event.listen(sqlite_store.engine, "before_cursor_execute", grab)
    try:
        got = queue.list_queue(sqlite_store, limit=10, now=T0)
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", grab)
    assert [g["priority"] for g in got] == [6.0] * 8 + [5.0] * 2
    selects = [(st, p) for st, p in seen if st.lstrip().startswith("SELECT")]
    assert len(selects) == 2  # open, and snoozed ones whose time has passed
    with sqlite_store.read() as c:
        for statement, params in selects:
            plan = " | ".join(
                str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
            assert "ix_queue_order (status=?)" in plan and "TEMP B-TREE" not in plan, plan
