"""AppTest for the Reply queue and Sources pages on real SQLite files.

Timestamps are relative to the real clock (the pages ask for "now"); nothing sleeps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from localserver import LocalServer
from streamlit.testing.v1 import AppTest

from app_pages._queue_detail import item_id
from earful import queue as q
from earful import replies
from earful.models import Mention
from earful.purge import purge_mentions
from earful.schema import alerts as alerts_table
from earful.schema import replies as replies_table
from earful.schema import source_health
from earful.store import Store

ROOT = Path(__file__).resolve().parents[1]
QUEUE_PAGE = str(ROOT / "app_pages" / "queue.py")
SOURCES_PAGE = str(ROOT / "app_pages" / "sources.py")

CONFIG = """
[brand]
name = "Acme"
terms = ["acme"]
handles = ["@acme"]

[competitors]
Globex = ["globex"]

[dashboard]
team = ["Alex", "Sam"]
refresh = "1h"

[[canned_replies]]
name = "Sorry"
text = "Hi {author}, sorry about this. The {brand} team is on it."
"""
SOURCES = """
[[sources]]
platform = "demo"
every = "1m"
"""
HOSTILE = (
    '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
    "![pixel](http://evil.example/p.png) [click](javascript:alert(1)) \u202eevil\u202c acme"
)


def mention(i: int, **kw) -> Mention:
    now = datetime.now(UTC)
    base = dict(
        platform="mastodon",
        external_id=f"t:{i}",
        url=f"https://social.example/@user{i}/{i}",
        author=f"user{i}",
        text=f"@acme order {i} still not here",
        created_at=now - timedelta(minutes=10 + i),
        author_followers=10 * i,
        matched="Acme",
        compound=-0.6,
        label="negative",
        intent="complaint",
        needs_reply=True,
        reason="test",
        priority=50.0 + i,
    )
    base.update(kw)
    return Mention(**base)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a config, point the pages at it and at a fresh SQLite database; return a helper."""

    class Env:
        def __init__(self) -> None:
            self.url = f"sqlite:///{tmp_path / 'earful.db'}"
            self.store = Store(self.url)
            self.store.upgrade()
            self.config = tmp_path / "earful.toml"
            self.configure(CONFIG + SOURCES)
            monkeypatch.setenv("EARFUL_CONFIG", str(self.config))
            monkeypatch.setenv("EARFUL_DATABASE_URL", self.url)

        def configure(self, text: str) -> None:
            self.config.write_text(text, encoding="utf-8")

        def add(self, *ms: Mention) -> list[int]:
            return list(self.store.save_page("test", "q", ms, None).inserted_ids)

        def page(self, path: str, user: str | None = "Alex") -> AppTest:
            at = AppTest.from_file(path, default_timeout=30)
            if user:
                at.session_state["earful_user"] = user
            return at.run()

    e = Env()
    yield e
    e.store.engine.dispose()


def texts(at: AppTest, kind: str) -> list[str]:
    """Element bodies with markdown escapes removed (what the reader sees)."""
    return [re.sub(r"\\(.)", r"\1", str(el.value)) for el in getattr(at, kind)]


# An unescaped "<" or "](" in markdown would be live HTML or a live link/image.
LIVE_MARKUP = re.compile(r"(?<!\\)<|(?<!\\)\]\(")


def raw_markdown(at: AppTest) -> list[str]:
    """Every markdown body as sent to the browser (escapes kept)."""
    kinds = ("markdown", "caption", "warning", "error", "info", "success")
    return [str(el.value) for k in kinds for el in getattr(at, k)]


def queue_table(at: AppTest):
    """The queue table (the one with an SLA column), or None when the page shows none."""
    for df in at.dataframe:
        if "SLA" in df.value.columns:
            return df.value
    return None


def listed(at: AppTest) -> list[int]:
    """Ids in the queue table (empty when the page shows no table)."""
    table = queue_table(at)
    return [] if table is None else [int(i) for i in table["id"]]


def open_item(at: AppTest, mid: int) -> AppTest:
    return at.selectbox(key="q_sel").set_value(mid).run()


# -- queue -------------------------------------------------------------------------------
def test_queue_empty_state(env):
    at = env.page(QUEUE_PAGE)
    assert not at.exception
    assert any("Nothing waits for a reply" in t for t in texts(at, "info"))


def test_queue_lists_highest_priority_first_and_filters(env):
    ids = env.add(
        mention(1, priority=20.0),
        mention(2, priority=90.0, platform="bluesky", external_id="b:2"),
        mention(3, priority=60.0, intent="question"),
    )
    at = env.page(QUEUE_PAGE)
    assert not at.exception
    table = queue_table(at)
    assert list(table["id"]) == [ids[1], ids[2], ids[0]]
    at.selectbox(key="q_f_platform").set_value("bluesky").run()
    assert list(queue_table(at)["id"]) == [ids[1]]
    at.selectbox(key="q_f_platform").set_value("All").run()
    at.selectbox(key="q_f_intent").set_value("question").run()
    assert list(queue_table(at)["id"]) == [ids[2]]


def test_queue_is_paged_and_a_new_filter_starts_at_page_one(env):
    ids = env.add(*[mention(i, priority=float(i)) for i in range(1, 31)])
    at = env.page(QUEUE_PAGE)
    assert listed(at) == ids[::-1][:25]
    at.number_input(key="q_f_page").set_value(2).run()
    assert listed(at) == ids[::-1][25:]
    at.selectbox(key="q_f_intent").set_value("praise").run()
    assert at.number_input(key="q_f_page").value == 1 and listed(at) == []
    assert any("No mentions match these filters" in t for t in texts(at, "info"))


def test_queue_breached_only_filter(env):
    now = datetime.now(UTC)
    ids = env.add(
        mention(1, created_at=now - timedelta(days=5), priority=10.0),  # low band: 72h target
        mention(2, priority=10.0),
    )
    at = env.page(QUEUE_PAGE)
    assert len(queue_table(at)) == 2
    at.toggle(key="q_f_breached").set_value(True).run()
    table = queue_table(at)
    assert list(table["id"]) == [ids[0]]
    assert table["SLA"].iloc[0].startswith("⚠ breached")


def test_assign_to_me_and_resolve_record_who(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE, user="Sam"), mid)
    at.button(key=f"q_me_{mid}").click().run()
    assert not at.exception
    item = q.get_item(env.store, mid)
    assert item["assignee"] == "Sam" and item["updated_by"] == "Sam"
    assert any("Assigned to you" in t for t in texts(at, "success"))
    at.selectbox(key=f"q_status_{mid}").set_value("resolved").run()
    at.button(key=f"q_apply_{mid}").click().run()
    item = q.get_item(env.store, mid)
    assert item["status"] == "resolved" and item["resolved_at"] is not None
    actions = [(a["actor"], a["action"]) for a in q.audit_for(env.store, mid)]
    assert ("Sam", "assign") in actions and ("Sam", "status") in actions
    # The resolved item left the open list but stays open in the detail pane.
    assert at.selectbox(key="q_sel").value == mid


def test_assign_to_a_teammate(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE), mid)
    at.selectbox(key=f"q_assignee_{mid}").set_value("Sam").run()
    at.button(key=f"q_assign_{mid}").click().run()
    assert q.get_item(env.store, mid)["assignee"] == "Sam"
    at.selectbox(key="q_f_assignee").set_value("Sam").run()
    assert listed(at) == [mid]
    at.selectbox(key="q_f_assignee").set_value("Alex").run()
    assert listed(at) == []


def test_stale_version_from_another_session_is_not_overwritten(env):
    (mid,) = env.add(mention(1))
    alex = open_item(env.page(QUEUE_PAGE, user="Alex"), mid)
    sam = open_item(env.page(QUEUE_PAGE, user="Sam"), mid)
    sam.button(key=f"q_me_{mid}").click().run()  # Sam takes it first
    # Alex still looks at the old version: picks "dismissed" and applies in one go.
    alex.selectbox(key=f"q_status_{mid}").set_value("dismissed")
    alex.button(key=f"q_apply_{mid}").click().run()
    item = q.get_item(env.store, mid)
    assert item["status"] == "open" and item["assignee"] == "Sam"
    warning = " ".join(texts(alex, "warning"))
    assert "changed by Sam" in warning and "assigned to Sam" in warning
    # Alex now sees the current state and can act on it deliberately.
    alex.button(key=f"q_apply_{mid}").click().run()
    assert q.get_item(env.store, mid)["status"] == "dismissed"


def test_an_item_purged_while_open_gives_a_warning_not_a_crash(env):
    mid, other = env.add(mention(1), mention(2))
    alex = open_item(env.page(QUEUE_PAGE, user="Alex"), mid)
    sam = open_item(env.page(QUEUE_PAGE, user="Sam"), mid)
    with env.store.write() as c:  # the post was deleted at the source meanwhile
        purge_mentions(c, "mastodon", ["t:1"], now=datetime.now(UTC))
    alex.text_area(key=f"q_note_{mid}").input("Called them back")
    alex.button(key=f"q_addnote_{mid}").click().run()
    sam.button(key=f"q_me_{mid}").click().run()
    for at in (alex, sam):
        assert not at.exception
        assert "deleted or removed at the source" in " ".join(texts(at, "warning"))
        assert "no longer in the queue" in " ".join(texts(at, "info"))
    assert q.get_item(env.store, other)["status"] == "open"


def test_snooze_until_a_time(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE), mid)
    at.selectbox(key=f"q_status_{mid}").set_value("snoozed").run()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    at.date_input(key=f"q_snooze_d_{mid}").set_value(tomorrow).run()
    at.time_input(key=f"q_snooze_t_{mid}").set_value(time(9, 30)).run()
    at.button(key=f"q_apply_{mid}").click().run()
    assert not at.exception
    item = q.get_item(env.store, mid)
    assert item["status"] == "snoozed"
    assert item["snoozed_until"] == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 9, 30, tzinfo=UTC
    )
    assert mid not in [i["mention_id"] for i in q.list_queue(env.store)]


def test_snooze_in_the_past_is_refused_with_a_message(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE), mid)
    at.selectbox(key=f"q_status_{mid}").set_value("snoozed").run()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    at.date_input(key=f"q_snooze_d_{mid}").set_value(yesterday).run()
    at.button(key=f"q_apply_{mid}").click().run()
    assert q.get_item(env.store, mid)["status"] == "open"
    assert any("future" in t for t in texts(at, "error"))


def test_internal_note(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE), mid)
    at.text_area(key=f"q_note_{mid}").input("Called them back, refund on its way").run()
    at.button(key=f"q_addnote_{mid}").click().run()
    notes = q.notes_for(env.store, mid)
    assert [(n["author"], n["text"]) for n in notes] == [
        ("Alex", "Called them back, refund on its way")
    ]
    assert at.text_area(key=f"q_note_{mid}").value == ""


def test_canned_reply_fills_the_draft_and_manual_reply_is_recorded(env):
    (mid,) = env.add(mention(1, platform="hackernews", external_id="hn:1"))
    at = open_item(env.page(QUEUE_PAGE), mid)
    at.selectbox(key=f"q_canned_{mid}").set_value("Sorry").run()
    assert at.text_area(key=f"q_draft_{mid}").value == (
        "Hi user1, sorry about this. The Acme team is on it."
    )
    assert f"q_send_{mid}" not in [b.key for b in at.button]  # HN: manual replies only
    at.text_input(key=f"q_manual_url_{mid}").input("https://news.ycombinator.com/item?id=1").run()
    at.button(key=f"q_manual_{mid}").click().run()
    assert not at.exception
    assert any("replied manually" in t for t in texts(at, "success"))
    assert q.get_item(env.store, mid)["first_reply_at"] is not None


def test_send_reply_through_the_platform_once(env, monkeypatch):
    with LocalServer() as srv:
        srv.route("/api/v2/search", {"statuses": [{"id": "777"}]})
        srv.route("/api/v1/statuses", {"id": "900", "url": "https://social.example/@acme/900"})
        monkeypatch.setenv("ACME_MASTODON_TOKEN", "secret-token")
        env.configure(
            CONFIG
            + SOURCES
            + f'[replies.mastodon]\nbase_url = "{srv.url}"\ntoken_env = "ACME_MASTODON_TOKEN"\n'
        )
        (mid,) = env.add(mention(1, external_id="https://social.example/users/user1/statuses/1"))
        at = open_item(env.page(QUEUE_PAGE), mid)
        at.text_area(key=f"q_draft_{mid}").input("Sorry! We're on it.").run()
        at.button(key=f"q_send_{mid}").click().run()
        assert not at.exception
        assert any("Reply sent" in t for t in texts(at, "success"))
        assert at.text_area(key=f"q_draft_{mid}").value == ""
        posts = srv.served("/api/v1/statuses")
        assert len(posts) == 1 and b"Sorry" in posts[0].body
        at.text_area(key=f"q_draft_{mid}").input("Sorry again").run()
        at.button(key=f"q_send_{mid}").click().run()  # a second send is refused
        assert len(srv.served("/api/v1/statuses")) == 1
        assert any("Not sent: already sent" in t for t in texts(at, "error"))
        item = q.get_item(env.store, mid)
        assert item["status"] == "pending" and item["first_reply_at"] is not None


def test_unknown_reply_outcome_is_verified_by_a_person(env):
    (mid,) = env.add(mention(1))
    now = datetime.now(UTC)
    with env.store.write() as conn:
        rid = conn.execute(
            sa.insert(replies_table).values(
                mention_id=mid,
                idempotency_key="k1",
                text="hello",
                status="unknown",
                actor="Sam",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    at = open_item(env.page(QUEUE_PAGE), mid)
    assert any("outcome unknown" in t for t in texts(at, "warning"))
    at.button(key=f"q_verify_{rid}_True").click().run()
    assert [r["status"] for r in replies.replies_for(env.store, mid)] == ["sent"]
    assert not [t for t in texts(at, "warning") if "outcome unknown" in t]


def test_refresh_keeps_filters_selection_and_draft(env):
    ids = env.add(mention(1), mention(2, platform="bluesky", external_id="b:2"))
    at = open_item(env.page(QUEUE_PAGE), ids[0])
    at.selectbox(key="q_f_platform").set_value("mastodon").run()
    at.text_area(key=f"q_draft_{ids[0]}").input("Half-written reply").run()
    (new,) = env.add(mention(3, priority=99.0))  # arrives while the agent is typing
    at.run()  # what the fragment's run_every does: read the data again
    assert listed(at) == [new, ids[0]]
    assert at.selectbox(key="q_f_platform").value == "mastodon"
    assert at.selectbox(key="q_sel").value == ids[0]
    assert at.text_area(key=f"q_draft_{ids[0]}").value == "Half-written reply"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (12, 12),
        (None, None),
        ("#12 · mastodon · complaint · 1h 59m left", 12),  # the countdown ticked since
        ("#12", 12),  # the label once the item left the listed page
        ("#12 · x · complaint · ⚠ breached 2h 03m ago", 12),
        ("not a label of ours", None),
        ("12", None),
    ],
)
def test_open_item_read_from_a_label_handed_back(choice, expected):
    """A select box choice travels as its label; one that no longer matches this run's
    labels comes back from Streamlit as the raw string (the browser test drives that)."""
    assert item_id(choice) == expected


def test_no_actions_without_a_name(env):
    (mid,) = env.add(mention(1))
    at = open_item(env.page(QUEUE_PAGE, user=None), mid)
    assert f"q_me_{mid}" not in [b.key for b in at.button]
    assert any("Who are you" in t for t in texts(at, "info"))


def test_thread_and_author_history_in_the_detail_pane(env):
    now = datetime.now(UTC)
    ids = env.add(
        mention(1, thread_id="th", author="kim", created_at=now - timedelta(hours=3)),
        mention(2, thread_id="th", author="lee", needs_reply=False, text="acme same here"),
        mention(3, author="kim", created_at=now - timedelta(days=2), needs_reply=False),
    )
    at = open_item(env.page(QUEUE_PAGE), ids[0])
    labels = [e.label for e in at.expander]
    assert "Thread (1)" in labels and "Earlier posts by this author (1)" in labels
    assert len(at.get("link_button")) == 1  # an https URL gets its "open the original" link


def test_hostile_post_is_inert_text(env):
    big = HOSTILE + " x" * 60_000
    (mid,) = env.add(
        mention(1, text=big, author="<b>[mallory](http://evil.example)</b>", url="javascript:x()")
    )
    at = open_item(env.page(QUEUE_PAGE), mid)
    assert not at.exception
    body = [t for t in texts(at, "text") if "onerror" in t]
    assert body and body[0].startswith('<img src=x onerror="window.__pwned=1">')
    assert "\u202e" not in body[0] and len(body[0]) <= 20_000
    assert any(t.startswith("<b>[mallory](http://evil.example)</b>") for t in texts(at, "text"))
    assert not at.get("link_button")  # a javascript: URL is never made clickable
    for md in raw_markdown(at):
        assert not LIVE_MARKUP.search(md), md
    # The queue table holds the same text as plain cells.
    assert queue_table(at)["post"].iloc[0].startswith("<img src=x")


# -- sources -------------------------------------------------------------------------------
def test_sources_empty_state(env):
    env.configure(CONFIG)
    at = env.page(SOURCES_PAGE)
    assert not at.exception
    assert any("No sources are configured" in t for t in texts(at, "info"))


def test_sources_health_errors_and_gaps(env):
    now = datetime.now(UTC)
    with env.store.write() as conn:
        conn.execute(
            sa.insert(source_health).values(
                source="demo",
                platform="demo",
                last_attempt=now - timedelta(minutes=1),
                last_success=now - timedelta(hours=5),
                last_error="cannot reach the server <script>x</script>",
                error_kind="unreachable",
                last_error_at=now - timedelta(minutes=1),
                consecutive_failures=4,
                items_today=12,
                today=now.date().isoformat(),
                next_poll=now + timedelta(minutes=5),
            )
        )
        conn.execute(
            sa.insert(alerts_table).values(
                kind="gap",
                subject="demo",
                dedupe_key="gap:demo:1",
                window_start=now - timedelta(hours=6),
                window_end=now,
                created_at=now - timedelta(minutes=30),
                summary="demo usually yields mentions but has been silent for 6 hours",
            )
        )
        conn.execute(
            sa.insert(alerts_table).values(
                kind="volume_spike",
                subject="Acme",
                dedupe_key="spike:acme:1",
                window_start=now - timedelta(hours=2),
                window_end=now,
                created_at=now - timedelta(minutes=20),
                summary="Acme volume x5",
            )
        )
    at = env.page(SOURCES_PAGE)
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["source"] == "demo"].iloc[0]
    assert "failing" in row["status"] and row["items today"] == 12
    assert "cannot reach the server" in row["last error"]
    errors = texts(at, "error")
    assert any(
        t.replace("**", "").startswith("demo: cannot reach the server <script>") for t in errors
    )
    assert any("silent for 6 hours" in t for t in errors)
    assert not any("volume x5" in t for t in errors)  # spikes belong to the Overview
    assert any("synthetic" in t.lower() for t in texts(at, "markdown"))
    for md in raw_markdown(at):
        assert not LIVE_MARKUP.search(md), md


def test_sources_never_polled(env):
    at = env.page(SOURCES_PAGE)
    assert not at.exception
    assert "never polled" in at.dataframe[0].value["status"].iloc[0]


def test_sources_say_what_each_platform_can_tell_about_deleted_posts(env):
    env.configure(
        CONFIG + SOURCES + '[[sources]]\nplatform = "mastodon"\nbase_url = "http://127.0.0.1:9"\n'
    )
    at = env.page(SOURCES_PAGE)
    assert not at.exception
    lines = {t.split("**")[1]: t for t in texts(at, "markdown") if t.startswith("**")}
    assert "Deleted posts: A status deleted since it was stored answers 404" in lines["mastodon"]
    assert "Deleted posts: A stored post is never checked again" in lines["demo"]


# -- conversation context (earful.conversation), on SQLite and PostgreSQL ------------------
def test_thread_and_author_history_queries(any_store):
    from earful.conversation import author_history, thread_for

    now = datetime.now(UTC)
    t0 = now - timedelta(hours=5)
    ids = list(
        any_store.save_page(
            "test",
            "q",
            [
                mention(1, author="kim", thread_id="th", created_at=t0),
                mention(2, author="lee", thread_id="th", created_at=t0 + timedelta(hours=1)),
                mention(3, author="kim", created_at=t0 - timedelta(days=3)),
                mention(4, author="kim", platform="bluesky", external_id="b:4"),  # other platform
                mention(5, author="kim", created_at=now),  # later: not "earlier"
                mention(6, author="ann", thread_id="other", created_at=t0),
            ],
            None,
        ).inserted_ids
    )
    assert [r["id"] for r in thread_for(any_store, ids[0])] == [ids[1]]
    assert [r["id"] for r in thread_for(any_store, ids[1])] == [ids[0]]
    assert thread_for(any_store, ids[2]) == []  # no thread known
    assert [r["id"] for r in author_history(any_store, ids[0])] == [ids[2]]
    assert [r["id"] for r in author_history(any_store, ids[4])] == [ids[0], ids[2]]
    assert author_history(any_store, 999_999) == []


def test_sqlite_reads_author_history_through_the_author_index(sqlite_store):
    # Without statistics SQLite's planner walked the platform/time index back from the
    # post instead, filtering by author: seconds for a rare author in a large database.
    from sqlalchemy import event

    from earful.conversation import author_history

    now = datetime.now(UTC)
    batch = [
        mention(i, author=f"a{i % 50}", created_at=now - timedelta(minutes=i)) for i in range(300)
    ]
    ids = list(sqlite_store.save_page("test", "q", batch, None).inserted_ids)
    seen: list[tuple[str, object]] = []

    def grab(_conn, _cur, statement, params, _ctx, _many):
        seen.append((statement, params))

    event.listen(sqlite_store.engine, "before_cursor_execute", grab)
    try:
        history = author_history(sqlite_store, ids[0])
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", grab)
    assert [r["author"] for r in history] == ["a0"] * 5
    assert [r["id"] for r in history] == ids[50:300:50]  # newest first
    statement, params = next(s for s in seen if "ORDER BY" in s[0])
    with sqlite_store.read() as c:
        plan = " ".join(
            str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        )
    assert "ix_mentions_author_thread (platform=? AND author=?)" in plan, plan
