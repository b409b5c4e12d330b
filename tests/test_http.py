"""listeners/_http.py against a real local server: rate limits, retries, blocks, bad bodies."""

from __future__ import annotations

import json
import math
import random
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from localserver import LocalServer, Reply

from listeners._http import (
    USER_AGENT,
    decode_json,
    get_json,
    html_to_text,
    make_client,
    parse_reset,
    request,
    search_terms,
    term_pattern,
    text_matches,
)
from listeners.base import Context, SourceError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx():
    slept: list[float] = []
    client = make_client(timeout=0.3)
    c = Context(
        source=SimpleNamespace(options={}, base_url=None),
        client=client,
        clock=lambda: NOW,
        sleep=slept.append,
        rng=random.Random(1),
    )
    c.slept = slept  # type: ignore[attr-defined]
    yield c
    client.close()


def test_user_agent_names_the_project(srv, ctx):
    srv.route("/x", {"ok": True})
    assert get_json(ctx, srv.url + "/x") == {"ok": True}
    ua = srv.served("/x")[0].headers["user-agent"]
    assert ua == USER_AGENT and "github.com/earful-dev/earful" in ua


def test_listener_can_override_user_agent(srv, ctx):
    srv.route("/x", {"ok": True})
    get_json(ctx, srv.url + "/x", headers={"User-Agent": "linux:earful:0.1 (by /u/acme)"})
    assert srv.served("/x")[0].headers["user-agent"] == "linux:earful:0.1 (by /u/acme)"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, NOW + timedelta(seconds=30)),
        ({"Retry-After": "Wed, 25 Nov 2026 12:05:00 GMT"}, NOW + timedelta(minutes=5)),
        # Mastodon: ISO timestamp
        (
            {"X-RateLimit-Reset": "2026-11-25T12:15:00.896192Z"},
            datetime(2026, 11, 25, 12, 15, 0, 896192, tzinfo=UTC),
        ),
        # X: epoch seconds
        (
            {"x-rate-limit-reset": str(int((NOW + timedelta(minutes=15)).timestamp()))},
            NOW + timedelta(minutes=15),
        ),
        # Bluesky: epoch seconds
        (
            {"RateLimit-Reset": str(int((NOW + timedelta(seconds=90)).timestamp()))},
            NOW + timedelta(seconds=90),
        ),
        # Reddit: seconds remaining in the window
        ({"X-Ratelimit-Reset": "412"}, NOW + timedelta(seconds=412)),
        ({}, NOW + timedelta(seconds=60)),
    ],
)
def test_429_becomes_rate_limited_with_retry_at(srv, ctx, headers, expected):
    srv.script("/x", Reply(429, {"error": "slow down"}, headers))
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x")
    assert ei.value.kind == "rate_limited"
    assert ei.value.retry_at == expected
    assert len(srv.served("/x")) == 1  # no hammering while rate-limited


@pytest.mark.parametrize("kind", ["500", "502", "503", "reset", "timeout", "cut", "html500"])
def test_transient_faults_are_retried_then_succeed(srv, ctx, kind):
    srv.route("/x", {"ok": 1})
    srv.fault("/x", kind, times=2)
    assert get_json(ctx, srv.url + "/x") == {"ok": 1}
    assert len(srv.served("/x")) == 3
    assert len(ctx.slept) == 2 and all(0 <= s <= 2.0 for s in ctx.slept)


def test_backoff_is_exponential_with_jitter_and_bounded(srv, ctx):
    srv.route("/x", Reply(503, {"e": 1}))
    with pytest.raises(SourceError) as ei:
        request(ctx, "GET", srv.url + "/x", attempts=6, base_delay=1.0)
    assert ei.value.kind == "unreachable" and ei.value.transient
    assert "503" in ei.value.message
    assert len(srv.served("/x")) == 6
    caps = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert all(0 <= s <= c for s, c in zip(ctx.slept, caps, strict=True))
    assert len(set(ctx.slept)) == len(ctx.slept)  # jittered


def test_total_sleep_is_bounded(srv, ctx):
    srv.route("/x", Reply(500, {}))
    with pytest.raises(SourceError):
        request(ctx, "GET", srv.url + "/x", attempts=50, base_delay=10.0, max_total_sleep=25.0)
    assert sum(ctx.slept) <= 25.0


def test_read_timeout_exhausted_is_unreachable(srv, ctx):
    srv.route("/x", Reply(200, {"late": True}, delay=1.0))
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x", attempts=2)
    assert ei.value.kind == "unreachable"
    assert "timed out" in ei.value.message


def test_connection_refused_is_unreachable(ctx):
    with LocalServer() as s:
        url = s.url
    with pytest.raises(SourceError) as ei:
        get_json(ctx, url + "/x", attempts=2)
    assert ei.value.kind == "unreachable" and ei.value.transient


def test_html_403_is_blocked_with_long_backoff(srv, ctx):
    srv.fault("/x", "html403")
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x")
    assert ei.value.kind == "blocked"
    assert ei.value.retry_at is not None and ei.value.retry_at >= NOW + timedelta(minutes=30)
    assert len(srv.served("/x")) == 1


@pytest.mark.parametrize("kind", ["json401", "json403"])
def test_json_401_403_needs_credentials(srv, ctx, kind):
    srv.fault("/x", kind)
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x")
    assert ei.value.kind == "needs_credentials"


def test_truncated_json_is_refetched(srv, ctx):
    srv.route("/x", {"hits": [1, 2, 3]})
    srv.fault("/x", "truncated", body={"hits": [1, 2, 3]})
    assert get_json(ctx, srv.url + "/x") == {"hits": [1, 2, 3]}
    assert len(srv.served("/x")) == 2


def test_always_truncated_json_is_bad_payload(srv, ctx):
    srv.route("/x", Reply(200, '{"hits": [1, 2', {"Content-Type": "application/json"}))
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x")
    assert ei.value.kind == "bad_payload"
    assert len(srv.served("/x")) == 3


def test_html_200_where_json_expected_is_bad_payload(srv, ctx):
    srv.route(
        "/x", Reply(200, "<html><body>maintenance</body></html>", {"Content-Type": "text/html"})
    )
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/x", json_attempts=1)
    assert ei.value.kind == "bad_payload" and "HTML" in ei.value.message


def test_404_is_a_plain_error(srv, ctx):
    with pytest.raises(SourceError) as ei:
        get_json(ctx, srv.url + "/nope")
    assert ei.value.kind == "error" and "404" in ei.value.message


def test_unexpected_client_exception_surfaces_as_source_error(ctx):
    def boom(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("kaboom")

    ctx.client = httpx.Client(transport=httpx.MockTransport(boom))
    with pytest.raises(SourceError) as ei:
        get_json(ctx, "http://127.0.0.1:9/x")
    assert ei.value.kind == "error" and "kaboom" in ei.value.message


def test_parse_reset_rejects_garbage():
    assert parse_reset("soon", NOW) is None
    assert parse_reset("", NOW) is None
    assert parse_reset(None, NOW) is None
    assert parse_reset("-5", NOW) is None


def test_html_to_text():
    html = (
        "Yeah &amp; it&#x27;s <i>fine</i>.<p>Second <a href='x'>link</a><script>alert(1)</script>"
    )
    assert html_to_text(html) == "Yeah & it's fine.\n\nSecond link"
    assert html_to_text("plain") == "plain"
    assert html_to_text(None) == ""


def test_search_terms_drop_redundant_ones():
    assert search_terms(["acme", '"acme cloud"']) == [("acme", False)]
    assert search_terms(["initech", "@initech"]) == [("initech", False)]
    assert search_terms(['"acme cloud"', "globex"]) == [("acme cloud", True), ("globex", False)]


def test_text_matches_whole_words_only():
    assert text_matches("I love NodeJS", ["nodejs"])
    assert not text_matches("Writing nodes that mine", ["nodejs"])
    assert not text_matches("acmecorp rocks", ["acme"])
    assert text_matches("#acme is down", ["acme"])
    assert text_matches("the acme   cloud outage", ['"acme cloud"'])


def test_unresolvable_host_fails_at_once_without_retries(ctx):
    calls = []

    def no_dns(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    ctx.client = httpx.Client(transport=httpx.MockTransport(no_dns))
    with pytest.raises(SourceError) as ei:
        get_json(ctx, "https://hn.algolia.example/api")
    assert ei.value.kind == "unreachable" and not ei.value.transient
    assert len(calls) == 1 and ctx.slept == []


# Bodies where orjson and json could part ways: decode_json must give json's answer.
TRICKY_JSON = [
    b'{"hits": [{"objectID": "1", "points": 3}], "nbPages": 1}',
    b"[NaN, Infinity, -Infinity]",
    b'"\\ud800 lone surrogate"',
    b'"\\ud83d\\ude00 pair"',
    b'\xef\xbb\xbf{"bom": 1}',
    '{"utf16": "é"}'.encode("utf-16"),
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b'{"id": 123456789012345678901234567890, "s": "12345678901234567890123"}',
    b"-0",
    b"-0.0",
    b"0.30000000000000004",
    b"1e400",
    b"5e-324",
    b'{"a": 1, "a": 2}',
    b'"\\u0000\\u202e\\t"',
]


@pytest.mark.parametrize("body", TRICKY_JSON)
def test_decode_json_is_json_loads(body):
    want, got = json.loads(body), decode_json(body)
    assert type(got) is type(want)
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert repr(got) == repr(want)


@pytest.mark.parametrize("body", [b"", b"[1, 2", b"{'a': 1}", b"\xff", b"[1,]", b"01"])
def test_decode_json_fails_like_json_loads(body):
    with pytest.raises(Exception) as want:
        json.loads(body)
    with pytest.raises(Exception) as got:
        decode_json(body)
    assert type(got.value) is type(want.value)


def test_decode_json_random_numbers_match_json():
    rng = random.Random(4)
    for _ in range(3000):
        digits = str(rng.getrandbits(rng.randint(1, 80)))
        cut = rng.randint(1, len(digits))
        fraction = f"{digits[:cut]}.{digits[cut:] or '0'}e{rng.randint(-330, 330)}"
        for text in (digits, "-" + digits, fraction):
            assert repr(decode_json(text.encode())) == repr(json.loads(text)), text


def test_term_pattern_is_the_documented_regex():
    pat = term_pattern(["acme", '"acme cloud"', "@Initech"])
    assert pat is not None and pat.flags & re.IGNORECASE
    assert pat.pattern == r"(?<![^\W_])acme(?![^\W_])|(?<![^\W_])initech(?![^\W_])"
    assert term_pattern([]) is None


def test_text_matches_like_its_pattern_on_awkward_text():
    terms = ["acme", '"acme cloud"', "node.js", "café"]
    pat = term_pattern(terms)
    assert pat is not None
    for text in [
        "ACME!",
        "xacme acme",
        "acme_corp",
        "\u212acme",
        "Node.JS rocks",
        "nodejs",
        "CAFÉ au lait",
        "\u202eacme\u202c",
        "acme\x00",
        "",
        "a" * 10_000 + " acme",
    ]:
        assert text_matches(text, terms) == bool(pat.search(text)), text
        assert text_matches(text, tuple(terms)) == bool(pat.search(text)), text
