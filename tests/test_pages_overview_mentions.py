"""AppTest of the Overview and Mentions pages on a real SQLite file with relative timestamps."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_queries import HOSTILE, make_mentions

from earful import queries as qy
from earful.export import export_bytes
from earful.store import Store

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[brand]
name = "Acme"
terms = ["acme"]
[competitors]
Globex = ["globex"]
Initech = ["initech"]
[dashboard]
timezone = "Europe/Paris"
team = ["Ana", "Ben"]
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    cfg = tmp_path / "earful.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    monkeypatch.setenv("EARFUL_CONFIG", str(cfg))
    monkeypatch.setenv("EARFUL_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    store = Store(url)
    store.upgrade()
    yield store
    store.engine.dispose()
    st.cache_data.clear()
    st.cache_resource.clear()


def seeded(store: Store, **kw) -> datetime:
    now = datetime.now(UTC)
    store.save_page("test", "q", make_mentions(now, **kw), None, now=now)
    return now


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=30)
    return at.run()


def _texts(at: AppTest) -> str:
    parts = (
        [e.value for e in at.markdown] + [e.value for e in at.text] + [e.value for e in at.caption]
    )
    parts += [e.body for e in at.info] + [e.body for e in at.warning]
    return "\n".join(str(p) for p in parts)


def test_overview_empty_database_says_what_to_do(env):
    at = page("overview")
    assert not at.exception
    assert "earful demo" in _texts(at)
    assert not at.metric


def test_overview_kpis_from_rollup(env):
    seeded(env, hours=72)
    at = page("overview")
    assert not at.exception, at.exception
    kpis = {m.label: m for m in at.metric}
    assert set(kpis) == {
        "Mentions",
        "Net sentiment",
        "Negative",
        "Complaints",
        "First response",
        "Share of voice",
    }
    assert int(kpis["Mentions"].value.replace(",", "")) == 72 * 4 + 1
    assert kpis["Complaints"].value == f"{72 * 2 + 1}"
    assert kpis["Share of voice"].value == f"{(72 * 4 + 1) / (72 * 7 + 1):.0%}"
    assert len(at.get("vega_lite_chart")) >= 4
    assert "Demo data" not in _texts(at)
    # a shorter period changes the numbers
    at.selectbox(key="ov_period").set_value("Last 24 hours").run()
    kpis = {m.label: m for m in at.metric}
    mentions = int(kpis["Mentions"].value.replace(",", ""))
    assert 23 * 4 + 1 <= mentions <= 25 * 4 + 1


def test_overview_labels_demo_data(env):
    seeded(env, hours=3, demo=True)
    at = page("overview")
    assert "Demo data" in _texts(at)


def _count(at: AppTest) -> int:
    line = next(m.value for m in at.markdown if "mentions match" in m.value)
    return int(line.split("**")[1].replace(",", ""))


def test_mentions_filters_change_counts(env):
    seeded(env, hours=48)
    at = page("mentions")
    assert not at.exception, at.exception
    assert _count(at) == 48 * 7 + 1
    at.multiselect(key="mn_entities").set_value(["Globex"]).run()
    assert _count(at) == 96
    at.multiselect(key="mn_labels").set_value(["negative"]).run()
    assert _count(at) == 48
    at.multiselect(key="mn_entities").set_value([]).run()
    at.text_input(key="mn_search").set_value("refund").run()
    assert _count(at) == 48
    at.text_input(key="mn_search").set_value("no such words anywhere").run()
    assert "No mentions match" in _texts(at)


def test_mentions_pages_server_side(env):
    seeded(env, hours=48)
    at = page("mentions")
    table = at.dataframe[0].value
    assert len(table) == 50
    at.number_input(key="mn_page").set_value(2).run()
    second = at.dataframe[0].value
    assert len(second) == 50 and set(second["author"]) is not None
    assert list(table["created_at"])[0] >= list(second["created_at"])[0]


def test_download_matches_the_filter(env):
    seeded(env, hours=48)
    at = page("mentions")
    at.multiselect(key="mn_platforms").set_value(["bluesky"]).run()
    at.multiselect(key="mn_intents").set_value(["complaint"]).run()
    shown = _count(at)
    f = at.session_state["mn_last_filter"]
    assert f.platforms == ("bluesky",) and f.intents == ("complaint",)
    rows = list(csv.DictReader(io.StringIO(export_bytes(env, f).decode("utf-8-sig"))))
    assert len(rows) == shown == qy.count_mentions(env, f) > 0
    assert {r["platform"] for r in rows} == {"bluesky"}
    assert {r["intent"] for r in rows} == {"complaint"}
    buttons = at.get("download_button")
    assert buttons and f"{shown:,} rows" in buttons[0].proto.label
    jl = export_bytes(env, f, fmt="jsonl").decode().splitlines()
    assert len(jl) == shown and json.loads(jl[0])["platform"] == "bluesky"


def test_hostile_text_is_inert(env):
    seeded(env, hours=1)
    at = page("mentions")
    table = at.dataframe[0].value
    row = table[table["author"] == "<b>mallory</b>"]
    assert len(row) == 1
    assert row.iloc[0]["text"].startswith("<img src=x onerror")  # plain cell text, not markup
    assert pd.isna(row.iloc[0]["url"])  # javascript: links never become links
    # open the detail pane: full post as st.text, bidi controls removed, length capped
    idx = int(row.index[0])
    at.session_state["mn_table"] = {"selection": {"rows": [idx], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    bodies = [t.value for t in at.text]
    body = next(b for b in bodies if "onerror" in b)
    assert "<script>" in body and "\u202e" not in body and len(body) <= 20_000
    assert all("<script>" not in m.value or "\\<script\\>" in m.value for m in at.markdown)
    assert HOSTILE[:20] in body


def test_empty_mentions_page(env):
    at = page("mentions")
    assert not at.exception
    assert "earful demo" in _texts(at)


def test_sidebar_who_am_i_is_kept_in_the_session(env):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=30).run()
    assert not at.exception, at.exception
    at.sidebar.selectbox(key="earful_who_pick").set_value("Ana").run()
    assert at.session_state["earful_user"] == "Ana"
    at.sidebar.selectbox(key="earful_who_pick").set_value("Someone else…").run()
    at.sidebar.text_input(key="earful_who_typed").set_value("  Zoe ").run()
    assert at.session_state["earful_user"] == "Zoe"


def test_failing_source_points_to_the_sources_page(env):
    from earful.schema import source_health

    seeded(env, hours=2)
    with env.write() as conn:
        conn.execute(
            source_health.insert().values(
                source="mastodon",
                platform="mastodon",
                consecutive_failures=3,
                last_error="HTTP 503 from the instance <script>x</script>",
            )
        )
    for name in ("overview", "mentions"):
        at = page(name)
        assert not at.exception, at.exception
        warn = next(w.body for w in at.warning if "mastodon" in w.body)
        assert "Sources" in warn and "\\<script\\>" in warn


def test_several_failing_sources_share_one_warning_naming_each(env):
    from earful.schema import source_health

    seeded(env, hours=2)
    names = [f"feed{i}" for i in range(7)]
    with env.write() as conn:
        for n in names:
            conn.execute(
                source_health.insert().values(
                    source=n,
                    platform="rss",
                    consecutive_failures=1,
                    last_error=f"cannot reach the server ({n}.example: ConnectError)",
                )
            )
    at = page("overview")
    assert not at.exception, at.exception
    warns = [w.body for w in at.warning if "failing" in w.body]
    assert len(warns) == 1
    assert warns[0].startswith("7 sources are failing: **feed0** (cannot reach the server)")
    assert "**feed4**" in warns[0] and "feed5" not in warns[0] and "and 2 more" in warns[0]


@pytest.mark.parametrize("name,prefix", [("overview", "ov_"), ("mentions", "mn_")])
def test_custom_period_and_no_widget_warnings(env, name, prefix):
    seeded(env, hours=30)
    at = page(name)
    at.selectbox(key=f"{prefix}period").set_value("Custom range").run()
    assert not at.exception, at.exception
    if name == "mentions":
        at.multiselect(key="mn_labels").set_value(["negative"]).run()
        at.number_input(key="mn_page").set_value(1).run()
    assert not at.exception, at.exception
    assert not [w.body for w in at.warning if "Session State" in w.body]
    if name == "mentions":  # a custom range of today and the 6 days before
        assert _count(at) > 0


@pytest.mark.postgres
def test_pages_on_postgresql(tmp_path, monkeypatch, pg_url):
    cfg = tmp_path / "earful.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("EARFUL_CONFIG", str(cfg))
    monkeypatch.setenv("EARFUL_DATABASE_URL", pg_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    store = Store(pg_url)
    store.upgrade()
    try:
        seeded(store, hours=30)
        at = page("overview")
        assert not at.exception, at.exception
        kpis = {m.label: m.value for m in at.metric}
        assert kpis["Mentions"] == f"{30 * 4 + 1}"
        at = page("mentions")
        at.text_input(key="mn_search").set_value("refund").run()
        assert not at.exception, at.exception
        assert _count(at) == 30
    finally:
        st.cache_resource.clear()
        store.engine.dispose()


def test_selection_is_dropped_when_the_page_changes(env):
    seeded(env, hours=48)
    at = page("mentions")
    at.session_state["mn_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    detail = [t.value for t in at.text]
    assert detail  # the first row's full text is shown
    at.number_input(key="mn_page").set_value(2).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.text] == []
