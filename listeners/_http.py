"""The one HTTP helper every listener uses, plus small text helpers they share.

`make_client()` builds the `httpx.Client` the poller hands to listeners: sane
timeouts and a descriptive User-Agent naming the project (a listener may
override it per request, e.g. Reddit's `<platform>:<app id>:<version> (by /u/...)`).

`request(ctx, method, url, ...)` never lets a network problem escape as
anything but a `SourceError` the health table understands:

- 429 -> `rate_limited`, `retry_at` from `Retry-After` or the platform's reset
  header (ISO timestamp on Mastodon, epoch seconds on X and Bluesky, seconds
  remaining on Reddit: `parse_reset` tells them apart by shape);
- 5xx, connection resets, refused connections and timeouts -> retried with
  exponential backoff and full jitter through `ctx.sleep` (bounded attempts and
  bounded total sleep), then `unreachable` (transient); a name that does not
  resolve (no network) is `unreachable` at once, without retries;
- a 403 HTML page (a CDN or anti-bot wall) -> `blocked` with a long backoff;
- 401/403 otherwise -> `needs_credentials`;
- a body that is not the JSON we asked for -> `bad_payload` (`get_json`
  re-fetches once or twice first: truncated bodies are usually transient).

JSON is decoded by orjson (`decode_json`: a 1,000-hit search page in half the
standard library's time), and by `json` where the two differ (orjson refuses
NaN, lone surrogates and UTF-16, and turns integers beyond 64 bits into
floats), so every body decodes to exactly what `response.json()` gives.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import httpx
import numpy as np
import orjson
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from earful.models import as_utc
from earful.text import TermSearch
from listeners.base import Context, SourceError

PROJECT_URL = "https://github.com/earful-dev/earful"
USER_AGENT = f"Earful/0.1 (+{PROJECT_URL})"
DEFAULT_TIMEOUT = 20.0
BLOCKED_BACKOFF = timedelta(hours=1)
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)
# Header names that carry "when may I try again", in the order we trust them.
RESET_HEADERS = ("retry-after", "x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")


def make_client(
    timeout: float = DEFAULT_TIMEOUT,
    *,
    user_agent: str = USER_AGENT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The shared client: connect/read timeouts, redirects followed, a descriptive User-Agent."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=True,
        transport=transport,
    )


# -- rate-limit headers ---------------------------------------------------------
def parse_reset(value: str | None, now: datetime) -> datetime | None:
    """A reset/Retry-After header value -> the UTC instant it names, or None.

    Accepts seconds remaining (`Retry-After: 30`, Reddit `X-Ratelimit-Reset: 412`),
    Unix epoch seconds (X, Bluesky), an ISO 8601 timestamp (Mastodon) or an
    HTTP date (`Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`).
    """
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    try:
        n = float(v)
    except ValueError:
        pass
    else:
        if n < 0:
            return None
        if n > 1e9:  # an epoch timestamp, not a duration
            return datetime.fromtimestamp(n, UTC)
        return now + timedelta(seconds=n)
    try:
        return as_utc(datetime.fromisoformat(v.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return as_utc(parsedate_to_datetime(v))
    except (TypeError, ValueError, IndexError):
        return None


def retry_at_from(response: httpx.Response, now: datetime) -> datetime:
    """When a rate-limited request may be retried (never in the past, default one minute)."""
    for name in RESET_HEADERS:
        at = parse_reset(response.headers.get(name), now)
        if at is not None:
            return max(at, now)
    return now + DEFAULT_RATE_LIMIT_WAIT


def _is_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    if "html" in ctype:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except Exception:  # noqa: BLE001 - a bad URL is reported, not raised
        return url


# -- requests -------------------------------------------------------------------
def backoff_delay(ctx: Context, attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return ctx.rng.uniform(0.0, min(cap, base * (2**attempt)))


def request(
    ctx: Context,
    method: str,
    url: str,
    *,
    attempts: int = 4,
    max_total_sleep: float = 60.0,
    base_delay: float = 0.5,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request through `ctx.client`; return a 2xx/3xx response or raise `SourceError`."""
    host = _host(url)
    slept = 0.0
    last: str = ""
    for attempt in range(max(1, attempts)):
        if attempt:
            delay = backoff_delay(ctx, attempt - 1, base_delay)
            if slept + delay > max_total_sleep:
                break
            ctx.sleep(delay)
            slept += delay
        try:
            response = ctx.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            last = f"{host} timed out ({type(exc).__name__})"
            continue
        except httpx.TransportError as exc:  # refused, reset, DNS, protocol errors
            last = f"{host}: {type(exc).__name__}: {exc}".rstrip(": ")
            if _dns_failure(exc):  # no network or no such host: retrying now will not help
                raise SourceError("unreachable", last) from exc
            continue
        except httpx.HTTPError as exc:  # anything else httpx may raise
            raise SourceError("error", f"{host}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - nothing here may crash the worker
            raise SourceError("error", f"{host}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429:
            now = ctx.clock()
            at = retry_at_from(response, now)
            raise SourceError(
                "rate_limited",
                f"{host} answered 429 Too Many Requests",
                retry_at=at,
                transient=True,
            )
        if status >= 500:
            last = f"{host} answered HTTP {status}"
            continue
        if status in (401, 403):
            if status == 403 and _is_html(response):
                raise SourceError(
                    "blocked",
                    f"{host} answered 403 with an HTML page (blocked)",
                    retry_at=ctx.clock() + BLOCKED_BACKOFF,
                )
            raise SourceError("needs_credentials", f"{host} answered HTTP {status}")
        if status >= 400:
            raise SourceError("error", f"{host} answered HTTP {status} for {_path(url)}")
        return response
    raise SourceError("unreachable", last or f"cannot reach {host}", transient=True)


def _dns_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return (
        "name or service not known" in text
        or "name resolution" in text
        or ("nodename nor servname" in text)
    )


def _path(url: str) -> str:
    try:
        return httpx.URL(url).path
    except Exception:  # noqa: BLE001
        return url


def get_json(
    ctx: Context, url: str, *, params: Any = None, json_attempts: int = 3, **kwargs: Any
) -> Any:
    """GET and decode JSON; an unreadable body is re-fetched, then raised as `bad_payload`."""
    host = _host(url)
    problem = ""
    for attempt in range(max(1, json_attempts)):
        if attempt:
            ctx.sleep(backoff_delay(ctx, attempt - 1))
        response = request(ctx, "GET", url, params=params, **kwargs)
        try:
            return decode_json(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            kind = "an HTML page" if _is_html(response) else "JSON that does not parse"
            problem = f"{host} sent {kind} ({exc.__class__.__name__})"
    raise SourceError("bad_payload", problem, transient=True)


def decode_json(body: bytes) -> Any:
    """JSON bytes -> Python, exactly as `json.loads(body)` (what `response.json()` does)."""
    if _long_number(body):
        return json.loads(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # NaN, lone surrogates, a BOM, UTF-16...: the slow way
        return json.loads(body)


def _long_number(body: bytes) -> bool:
    """Does `body` hold 20 bytes in a row of digits and minus signs?

    orjson decodes an integer beyond the 64-bit range as a float; json keeps it
    exact. Such an integer is at least 20 digits, or a minus sign and 19. One
    vectorised pass finds any run that long (in a string too: then json decodes
    a body orjson could have): a digit-or-minus mask, then windows of 2, 4, 8,
    16 and 20 by AND-ing the mask with itself shifted.
    """
    if len(body) < 20:
        return False
    b = np.frombuffer(body, dtype=np.uint8)
    run = ((b - 48) < 10) | (b == 45)
    for width in (1, 2, 4, 8, 4):
        run = run[:-width] & run[width:]
    return bool(run.any())


# -- text helpers shared by listeners -------------------------------------------
_BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|p|/div|/li|/h\d|/blockquote)\b[^>]*>", re.IGNORECASE)


def html_to_text(fragment: str | None) -> str:
    """HTML (or entity-escaped text) -> plain text, paragraphs kept as blank lines."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return fragment
    marked = _BLOCK_TAGS.sub(lambda m: "\n" if "br" in m.group(0).lower() else "\n\n", fragment)
    tree = HTMLParser(f"<div>{marked}</div>")
    for node in tree.css("script, style"):
        node.decompose()
    root = tree.body or tree.root
    text = root.text(separator="") if root is not None else ""
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def search_terms(terms: Iterable[str]) -> list[tuple[str, bool]]:
    """Configured terms -> (text, exact) with redundant ones dropped.

    `"acme cloud"` is redundant next to plain `acme`: a search for `acme`
    already returns it, so asking twice only costs rate limit.
    """
    parsed: list[tuple[str, bool]] = []
    for t in terms:
        t = t.strip()
        exact = len(t) >= 2 and t[0] == t[-1] == '"'
        t = t[1:-1].strip() if exact else t
        if t and (t.lower(), exact) not in [(p.lower(), e) for p, e in parsed]:
            parsed.append((t, exact))

    def words(t: str) -> set[str]:
        return set(t.lower().lstrip("@#").split())

    out = []
    for i, (text, exact) in enumerate(parsed):
        mine = words(text)
        covered = any(
            not e and j != i and words(o) <= mine and (words(o) != mine or j < i)
            for j, (o, e) in enumerate(parsed)
        )
        if not covered:
            out.append((text, exact))
    return out


def term_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any term as a whole word or phrase."""
    found = term_search(terms)
    return found.pattern if found is not None else None


def term_search(terms: Iterable[str]) -> TermSearch | None:
    """`term_pattern(terms)` as a `TermSearch` (a fast yes/no), None when there are no terms."""
    return _term_search(terms if type(terms) is tuple else tuple(terms))


@lru_cache(maxsize=256)  # listeners call text_matches once per post with the same terms
def _term_search(terms: tuple[str, ...]) -> TermSearch | None:
    parts = []
    for text, _exact in search_terms(terms):
        words = text.lower().lstrip("@#").split()
        if words:
            parts.append((r"[^\W_]", words, r"(?![^\W_])"))
    return TermSearch(parts) if parts else None


def text_matches(text: str, terms: Iterable[str]) -> bool:
    """True when `text` really contains one of `terms` (search backends fuzz; we do not)."""
    found = _term_search(terms if type(terms) is tuple else tuple(terms))
    return found is None or found.search(text)


def epoch(value: Any) -> datetime:
    """Epoch seconds (int, float or numeric string) -> tz-aware UTC datetime."""
    return datetime.fromtimestamp(float(value), UTC)


def iso(value: Any) -> datetime:
    """An ISO 8601 string (with or without zone; naive means UTC) -> tz-aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


__all__ = [
    "USER_AGENT",
    "PROJECT_URL",
    "make_client",
    "request",
    "get_json",
    "decode_json",
    "parse_reset",
    "retry_at_from",
    "backoff_delay",
    "html_to_text",
    "search_terms",
    "term_pattern",
    "term_search",
    "text_matches",
    "epoch",
    "iso",
]
