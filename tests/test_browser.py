"""The dashboard in a real browser: Playwright + Debian Chromium against `streamlit run`.

One Streamlit server (a subprocess on 127.0.0.1) serves a seeded SQLite
database: two weeks of demo data, one poll of every source (the live ones
against a local server: rate-limited, needs credentials, unreachable) and one
hostile post. Each test opens a fresh browser page and saves a screenshot of
its page (into docs/screenshots/ when EARFUL_SCREENSHOTS=docs/screenshots).
Skipped only when /usr/bin/chromium is missing (CI installs it).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_util import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    StreamlitServer,
    choose,
    free_port,
    goto_page,
    screenshot,
    wait_idle,
)
from localserver import LocalServer, Reply

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"
    ),
]

# Screenshots go to a temporary folder; to refresh the README's images run
#   EARFUL_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/test_browser.py
SHOTS_ENV = "EARFUL_SCREENSHOTS"
HOSTILE = (
    'Hey @acme <img src=x onerror="window.__pwned=1"> my order vanished '
    "<script>window.__pwned=2</script> ![pixel](http://127.0.0.1:9/p.png) "
    "[help](javascript:window.__pwned=3) \u202eerom daer\u202c"
)
CONFIG = """
[brand]
name = "Acme"
terms = ["acme", "\\"acme cloud\\""]
handles = ["@acme"]

[competitors]
Globex = ["globex"]
Initech = ["initech"]

[dashboard]
timezone = "UTC"
team = ["Alex", "Sam", "Priya"]
refresh = "10m"

[[canned_replies]]
name = "Sorry, looking into it"
text = "Hi {author}, sorry about this. We're looking into it now."

[[sources]]
platform = "demo"
every = "1m"
"""
# Live sources played by a local server (or a closed local port) for one poll, so the
# Sources page shows real health rows: rate-limited, needs credentials, unreachable.
LIVE = """
[[sources]]
platform = "hackernews"
base_url = "{srv}"

[[sources]]
platform = "mastodon"
base_url = "{srv}"
hashtags = ["acme"]

[[sources]]
platform = "rss"
url = "http://127.0.0.1:{closed}/alerts/feed.xml"
"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    """A config file and a SQLite database with demo data, a demo poll and a hostile post."""
    from earful.config import load_settings
    from earful.demo import seed_demo
    from earful.models import Mention
    from earful.poller import listen
    from earful.store import Store

    tmp = tmp_path_factory.mktemp("browser")
    config = tmp / "earful.toml"
    url = f"sqlite:///{tmp / 'earful.db'}"
    store = Store(url)
    store.upgrade()
    now = datetime.now(UTC)
    with LocalServer() as srv:
        srv.route(
            "/api/v1/search_by_date", Reply(429, {"error": "slow down"}, {"Retry-After": "3600"})
        )
        srv.route(
            "/api/v1/timelines/tag/acme",
            Reply(401, {"error": "This API requires an authenticated user"}),
        )
        config.write_text(CONFIG + LIVE.format(srv=srv.url, closed=free_port()), encoding="utf-8")
        settings = load_settings(config, environ={})
        assert seed_demo(store, settings, days=14, now=now) > 0
        listen(settings, store, once=True, out=lambda _line: None, sleep=lambda _s: None)
    hostile = Mention(
        platform="hackernews",
        external_id="40000001",
        url="https://news.ycombinator.com/item?id=40000001",
        author="mallory",
        author_followers=1234,
        text=HOSTILE,
        created_at=now - timedelta(minutes=30),
        matched="Acme",
        compound=-0.7,
        label="negative",
        intent="complaint",
        needs_reply=True,
        reason="lost order",
        priority=1000.0,  # first in the queue
    )
    (hostile_id,) = store.save_page("test", "hostile", [hostile], None).inserted_ids
    yield {"config": config, "url": url, "store": store, "hostile_id": hostile_id, "tmp": tmp}
    store.engine.dispose()


@pytest.fixture(scope="module")
def server(seeded):
    srv = StreamlitServer(
        config=seeded["config"], db_url=seeded["url"], log=seeded["tmp"] / "st.log"
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def open_app(browser, server, errors: list[str]):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    ctx.set_default_timeout(30_000)
    pg = ctx.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url, wait_until="domcontentloaded")
    pg.get_by_role("heading", name="Overview").first.wait_for()
    wait_idle(pg)
    return ctx, pg


@pytest.fixture
def page(browser, server):
    errors: list[str] = []
    ctx, pg = open_app(browser, server, errors)
    yield pg
    ctx.close()
    assert not [e for e in errors if "__pwned" in e], errors


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get(SHOTS_ENV)
    path = (ROOT / folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page, shots: Path, name: str) -> None:
    screenshot(page, shots / name)
    assert (shots / name).stat().st_size > 10_000  # a real rendering, not a blank page


def test_overview_renders_kpis_and_charts(page, shots):
    page.locator('[data-testid="stMetric"]').first.wait_for()
    assert page.locator('[data-testid="stMetric"]').count() >= 4
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for()
    assert charts.count() >= 2
    page.locator(
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    ).first.wait_for()
    no_exception(page)
    shot(page, shots, "overview.png")


def _match_count(page) -> int:
    text = page.get_by_text("mentions match").first.inner_text()
    return int(text.split()[0].replace(",", ""))


def test_mentions_filter_changes_table_and_csv_downloads(page, shots):
    goto_page(page, "Mentions")
    page.get_by_text("mentions match").first.wait_for()
    before = _match_count(page)
    shot(page, shots, "mentions.png")
    choose(page, "Sentiment", "negative", multi=True)
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=\"stMarkdown\"]')]"
        ".some(e => e.innerText.includes('mentions match') && !e.innerText.startsWith(String(n)))",
        arg=f"{before:,}",
    )
    after = _match_count(page)
    assert 0 < after < before
    no_exception(page)
    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"] button').first.click()
    data = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == after
    assert {r["label"] for r in rows} == {"negative"}


def test_queue_assign_resolve_and_hostile_post_is_text(page, seeded, shots):
    from earful import queue as q

    hid = seeded["hostile_id"]
    choose(page, "Who are you?", "Alex", root=page.locator('[data-testid="stSidebar"]'))
    goto_page(page, "Reply queue")
    choose(page, "Open item", f"#{hid} ·")
    body = page.locator('[data-testid="stText"]').filter(has_text="onerror")
    body.first.wait_for()
    assert '<img src=x onerror="window.__pwned=1">' in body.first.inner_text()
    assert "<script>window.__pwned=2</script>" in body.first.inner_text()
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript"]').count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    shot(page, shots, "queue.png")

    page.get_by_role("button", name="Assign to me").click()
    page.get_by_text("Assigned to you.").wait_for()
    choose(page, "Set status", "resolved")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Status set to resolved.").wait_for()
    item = q.get_item(seeded["store"], hid)
    assert (item["assignee"], item["status"], item["updated_by"]) == ("Alex", "resolved", "Alex")
    no_exception(page)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_sources_show_health_and_what_each_platform_sees(page, shots):
    goto_page(page, "Sources")
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_text("What each source can and cannot see").wait_for()
    assert page.locator('[data-testid="stMetric"]').count() == 4
    warnings = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert any("rss" in w and "reach" in w for w in warnings), warnings
    assert any("mastodon" in w for w in warnings), warnings
    no_exception(page)
    shot(page, shots, "sources.png")


def test_two_agents_on_one_item_nothing_is_overwritten(browser, server, seeded):
    from earful import queue as q

    mid = q.list_queue(seeded["store"], limit=1)[0]["mention_id"]
    errors: list[str] = []
    agents = {}
    try:
        for name in ("Alex", "Sam"):
            ctx, pg = open_app(browser, server, errors)
            agents[name] = (ctx, pg)
            choose(pg, "Who are you?", name, root=pg.locator('[data-testid="stSidebar"]'))
            goto_page(pg, "Reply queue")
            choose(pg, "Open item", f"#{mid} ·")
        alex, sam = agents["Alex"][1], agents["Sam"][1]
        choose(alex, "Set status", "dismissed")  # Alex is about to dismiss it...
        sam.get_by_role("button", name="Assign to me").click()  # ...when Sam takes it
        sam.get_by_text("Assigned to you.").wait_for()
        alex.get_by_role("button", name="Apply").click()
        warning = alex.locator('[data-testid="stAlert"]', has_text="changed by Sam").first
        warning.wait_for()
        item = q.get_item(seeded["store"], mid)
        assert (item["status"], item["assignee"]) == ("open", "Sam")
        # Alex is told the current state, not the one the click was based on, and the
        # detail pane shows it (the rerun streams the pane in after the warning: wait).
        assert "It is now open, assigned to Sam" in warning.inner_text()
        alex.locator(
            '[data-testid="stCaptionContainer"]', has_text="status open · assigned to Sam"
        ).first.wait_for()
        no_exception(alex)
    finally:
        for ctx, _pg in agents.values():
            ctx.close()
    assert not errors, errors


def test_open_item_stays_open_and_current_when_its_label_changes(page, seeded):
    """The "Open item" box sends its choice as the option's label, and the label changes
    (SLA countdown each minute, "#id" alone once the item leaves the listed page): the
    pane must still show the item and act on it. A filter that hides the open item
    changes its label on demand; the next action used to fail with a ValueError."""
    from earful import queue as q

    item = next(it for it in q.list_queue(seeded["store"], limit=20) if not it.get("assignee"))
    mid, platform = item["mention_id"], item["platform"]
    choose(page, "Who are you?", "Priya", root=page.locator('[data-testid="stSidebar"]'))
    goto_page(page, "Reply queue")
    choose(page, "Open item", f"#{mid} ·")
    choose(page, "Platform", "lemmy" if platform != "lemmy" else "reddit")  # hides it
    page.get_by_role("button", name="Assign to me").click()
    page.get_by_text("Assigned to you.").wait_for()
    page.locator(
        '[data-testid="stCaptionContainer"]', has_text="assigned to Priya"
    ).first.wait_for()
    no_exception(page)
    assert q.get_item(seeded["store"], mid)["assignee"] == "Priya"
    choose(page, "Set status", "pending")  # and the box keeps working after that
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Status set to pending.").wait_for()
    page.locator('[data-testid="stCaptionContainer"]', has_text="status pending").first.wait_for()
    no_exception(page)
    assert q.get_item(seeded["store"], mid)["status"] == "pending"
