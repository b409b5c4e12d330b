"""RSS/Atom: pure parse on recorded feeds, conditional GET and filtering against a local server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import Reply

from earful.config import settings_from_dict
from listeners.base import SourceError
from listeners.rss import is_search_feed, parse, unwrap

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def raw(name: str) -> bytes:
    return (FIXTURES / "rss" / name).read_bytes()


# -- parse ----------------------------------------------------------------------
def test_google_alerts_feed():
    ms, skipped = parse(raw("google_alerts.xml"), NOW)
    assert skipped == 0 and len(ms) == 3
    m = ms[1]
    # an Alerts entry is keyed by the article's real URL; the entry id is kept as native_id
    assert (
        m.external_id == m.url == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"
    )
    assert m.native_id == "tag:google.com,2013:googlealerts/feed:13685523368333461374"
    assert m.author == "investorplace.com"  # the alert has no author: the site stands in
    assert m.text.startswith("Slack Stock Has a Compelling Story")
    assert "<b>" not in m.text and "&#39;" not in m.text and "Company's decision" in m.text
    assert m.created_at == datetime(2019, 7, 10, 11, 46, 48, tzinfo=UTC)


def test_blog_rss_feed():
    ms, skipped = parse(raw("blog.rss"), NOW)
    assert skipped == 1  # an item with no id, link or text
    first = ms[0]
    assert first.external_id == "https://blog.example.com/2026/11/moving-off"
    assert first.author == "Dana Writer"
    assert (
        first.text == "Why we moved off Acme Cloud\n\nThe Acme bill doubled & support took a week."
    )
    assert ms[2].external_id == "https://blog.example.com/2026/11/globex"  # no guid: the link


def test_a_term_in_the_full_content_beyond_the_excerpt_is_in_the_text():
    ms, skipped = parse(raw("blog_excerpt.rss"), NOW)
    assert skipped == 0
    outage = ms[0]
    assert outage.text.startswith("What we learned from last week's outage\n\nOur pager went off")
    assert "storage vendor: Acme had rotated a certificate" in outage.text
    assert "[...]" not in outage.text  # the body, not the excerpt


def test_the_same_article_in_two_google_alerts_has_one_key():
    (a,), _ = parse(raw("google_alerts_brand.xml"), NOW)
    (b,), _ = parse(raw("google_alerts_competitor.xml"), NOW)
    assert a.external_id == b.external_id == "https://news.example.com/2026/11/acme-vs-globex"
    assert a.native_id != b.native_id


def test_google_news_feed_keeps_the_publisher():
    ms, _ = parse(raw("google_news_search.xml"), NOW)
    assert ms[0].author == "Example Times" and ms[0].external_id == "CBMiExampleToken1"


def test_not_a_feed_is_bad_payload():
    with pytest.raises(SourceError) as ei:
        parse(b"\x00\x01 definitely not xml", NOW)
    assert ei.value.kind == "bad_payload"


def test_unwrap_and_search_feed_detection():
    g = "https://www.google.com/url?rct=j&sa=t&url=https://example.com/a%3Fb%3D1&ct=ga"
    assert unwrap(g) == "https://example.com/a?b=1"
    assert unwrap("https://example.com/x") == "https://example.com/x"
    assert is_search_feed("https://www.google.com/alerts/feeds/0000/1111")
    assert is_search_feed("https://news.google.com/rss/search?q=acme")
    assert not is_search_feed("https://blog.example.com/feed.xml")


# -- fetch ----------------------------------------------------------------------------
def run(store, url: str, **extra):
    settings = settings_from_dict(
        {**SAMPLE_CONFIG, "sources": [{"platform": "rss", "url": url, "backfill": "30d", **extra}]}
    )
    return listen_once(settings, store, now=NOW, timeout=2)


def test_blog_feed_keeps_only_entries_with_a_term(srv, store):
    srv.route("/feed.xml", Reply(200, raw("blog.rss"), {"Content-Type": "application/rss+xml"}))
    lines = run(store, srv.url + "/feed.xml")
    assert stored(store, as_set=True) == {
        "https://blog.example.com/2026/11/moving-off",
        "https://blog.example.com/2026/11/globex",
    }
    assert lines[0].startswith("rss: ok, 2 new")


def test_conditional_get_with_etag_and_last_modified(srv, store):
    etag, lm = '"v1-abc"', "Tue, 24 Nov 2026 10:00:00 GMT"

    def feed(req):
        if req.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(
            200,
            raw("blog.rss"),
            {"ETag": etag, "Last-Modified": lm, "Content-Type": "application/rss+xml"},
        )

    srv.route("/feed.xml", feed)
    run(store, srv.url + "/feed.xml")
    lines = run(store, srv.url + "/feed.xml")
    first, second = srv.served("/feed.xml")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == etag and second.headers["if-modified-since"] == lm
    assert lines[0].startswith("rss: ok, 0 new")
    assert store.get_cursor("rss", "feed") == {"etag": etag, "last_modified": lm}


def test_query_feed_keeps_everything(srv, store):
    srv.route(
        "/alerts.xml",
        Reply(200, raw("google_alerts.xml"), {"Content-Type": "application/atom+xml"}),
    )
    run(store, srv.url + "/alerts.xml", is_query=True, backfill="5000d")
    # the pipeline still drops what matches no configured term
    assert len(stored(store, as_set=True)) == 0
    # the same feed with the brand it was made for: every entry is kept
    settings = settings_from_dict(
        {
            "brand": {"name": "Slack", "terms": ["slack"]},
            "sources": [{"platform": "rss", "url": srv.url + "/alerts.xml", "backfill": "5000d"}],
        }
    )
    listen_once(settings, store, now=NOW, timeout=2)
    assert len(stored(store, as_set=True)) == 3


def test_first_poll_leaves_out_entries_older_than_backfill(srv, store):
    srv.route("/feed.xml", Reply(200, raw("blog.rss"), {"Content-Type": "application/rss+xml"}))
    run(store, srv.url + "/feed.xml", backfill="3d")  # 23 Nov in, 21 Nov out
    assert stored(store, as_set=True) == {"https://blog.example.com/2026/11/moving-off"}


def test_html_error_page_is_reported(srv, store):
    srv.fault("/feed.xml", "html403")
    lines = run(store, srv.url + "/feed.xml")
    assert "FAILED: blocked by the platform" in lines[0]


def test_blog_entry_whose_body_names_the_brand_is_kept(srv, store):
    srv.route(
        "/ops.xml", Reply(200, raw("blog_excerpt.rss"), {"Content-Type": "application/rss+xml"})
    )
    run(store, srv.url + "/ops.xml")
    assert stored(store, as_set=True) == {"https://ops.example.com/2026/11/outage-notes"}


def test_an_article_in_the_brand_and_a_competitor_alert_is_stored_once(srv, store):
    for name in ("brand", "competitor"):
        srv.route(
            f"/alerts/{name}",
            Reply(200, raw(f"google_alerts_{name}.xml"), {"Content-Type": "application/atom+xml"}),
        )
    settings = settings_from_dict(
        {
            **SAMPLE_CONFIG,
            "sources": [
                {"platform": "rss", "name": f"alert-{n}", "url": f"{srv.url}/alerts/{n}"}
                for n in ("brand", "competitor")
            ],
        }
    )
    lines = listen_once(settings, store, now=NOW, timeout=2)
    assert stored(store) == ["https://news.example.com/2026/11/acme-vs-globex"]
    assert "1 new" in lines[0] and "0 new, 1 already stored" in lines[1], lines
