"""Any RSS or Atom feed (Google Alerts, Google News searches, a blog) through feedparser.

Endpoint: the configured `url` (one feed per source), fetched with a
conditional GET (`If-None-Match` / `If-Modified-Since` from the stored ETag
and Last-Modified; a 304 costs nothing and changes nothing).
Auth: none. Limits: none published; poll politely (`every = "15m"` or more).
Cursor: `{"etag": ..., "last_modified": ...}` for the conditional GET. A feed
has no paging: each poll stores whatever entries it carries (dedupe by entry
id, else link); on the first poll entries older than `backfill` are left out.
Google Alerts links are Google redirects (`https://www.google.com/url?...&url=<real>`):
the real URL is taken from the `url` parameter, and it is the dedupe key of
an Alerts entry (native_id keeps the entry id), since every alert gives the
same article its own id. An entry's text is its title and the longer of its
summary and content (a `description` is often an excerpt of the body).
Entries are kept only when that text contains a configured term, unless the feed is itself
a search (`is_query = true`, the default for Google Alerts and Google News
search feeds), whose entries are all about the query.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import feedparser
from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners._http import html_to_text, request, text_matches
from listeners.base import MALFORMED, Listener, Query, SourceError

ALERTS_ID = "tag:google.com,2013:googlealerts/"  # a Google Alerts entry id starts so


class RSSOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, pattern=r"^https?://")
    is_query: bool | None = None  # None: true for Google Alerts / Google News search feeds


def is_search_feed(url: str) -> bool:
    """Feeds that are themselves a query: every entry is about the searched terms."""
    parts = urlsplit(url)
    host, path = parts.netloc.lower(), parts.path
    if host.endswith("google.com") and path.startswith("/alerts/feeds"):
        return True
    if host == "news.google.com" and path.startswith("/rss/search"):
        return True
    return False


def unwrap(link: str) -> str:
    """A Google redirect link -> the real URL; anything else unchanged."""
    parts = urlsplit(link)
    if parts.netloc.lower().endswith("google.com") and parts.path == "/url":
        qs = parse_qs(parts.query)
        for key in ("url", "q"):
            if qs.get(key) and qs[key][0].startswith(("http://", "https://")):
                return qs[key][0]
    return link


def _get(entry: Mapping[str, Any], key: str) -> Any:
    """Raw lookup: FeedParserDict's aliasing (updated -> published) warns and is going away."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        st = _get(entry, key)
        if st:
            return datetime.fromtimestamp(calendar.timegm(st), UTC)
    return None


def _body(entry: Mapping[str, Any]) -> str:
    """The entry's text: the full content when the feed has it, else the summary.

    An RSS 2.0 `description` is often an excerpt of the `content:encoded`
    body; a term only in the rest of the body would be filtered out here and
    by the pipeline, so the longer of the two is the text.
    """
    summary = html_to_text(entry.get("summary")) if entry.get("summary") else ""
    contents = entry.get("content") or []
    full = html_to_text(contents[0].get("value")) if contents else ""
    return full if len(full) > len(summary) else summary


def _mention(entry: Mapping[str, Any], feed_title: str, fetched: datetime) -> Mention:
    wrapped = str(entry.get("link") or "")
    link = unwrap(wrapped)
    title = html_to_text(entry.get("title"))
    summary = _body(entry)
    text = title if not summary or summary == title else f"{title}\n\n{summary}"
    entry_id = str(entry.get("id") or "")
    key = entry_id or link
    native = None
    if link != wrapped and entry_id.startswith(ALERTS_ID):
        # Each Google Alert gives the same article its own entry id: the brand's
        # alert and a competitor's would store it twice. The real URL is the key.
        key, native = link, entry_id
    if not key:
        if not text:
            raise ValueError("entry with no id, link or text")
        key = "sha1:" + hashlib.sha1(text.encode()).hexdigest()
    source = entry.get("source") or {}
    host = urlsplit(link).netloc.removeprefix("www.")
    author = str(entry.get("author") or source.get("title") or host or feed_title)
    raw = {k: _get(entry, k) for k in ("id", "title", "link", "published", "updated", "summary")}
    return new_mention(
        platform="rss",
        external_id=key,
        native_id=native,
        url=link,
        author=author,
        text=text,
        created_at=_when(entry) or fetched,
        raw={k: v for k, v in raw.items() if v is not None},
    )


def parse(payload: bytes, fetched: datetime | None = None) -> tuple[list[Mention], int]:
    """Feed bytes -> (mentions, malformed entries skipped). Pure: never touches the network."""
    fetched = fetched or datetime.now(UTC)
    feed = feedparser.parse(io.BytesIO(payload))
    if feed.get("bozo") and not feed.get("entries") and not feed.get("feed"):
        raise SourceError("bad_payload", f"not an RSS or Atom feed ({feed.get('bozo_exception')})")
    title = str((feed.get("feed") or {}).get("title") or "")
    out: list[Mention] = []
    skipped = 0
    for entry in feed.get("entries") or []:
        try:
            out.append(_mention(entry, title, fetched))
        except MALFORMED:
            skipped += 1
    return out, skipped


class RSSListener(Listener):
    platform = "rss"
    Options: ClassVar[type[BaseModel]] = RSSOptions
    sees = (
        "Entries of one RSS/Atom feed (e.g. a Google Alerts or Google News search) that "
        "contain a term; only what the feed carries, no comments, no author followers."
    )

    @property
    def feed_url(self) -> str:
        return str(self.options.url)  # type: ignore[attr-defined]

    @property
    def is_query(self) -> bool:
        flag = self.options.is_query  # type: ignore[attr-defined]
        return is_search_feed(self.feed_url) if flag is None else bool(flag)

    def queries(self, entities: Mapping[str, list[str]]) -> list[Query]:
        """One feed, one query: entries are matched against every configured term."""
        terms = tuple(t for ts in entities.values() for t in ts)
        return [Query("feed", next(iter(entities), ""), terms, self.ctx.source.query)]

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml, */*"}
        if cursor and cursor.get("etag"):
            headers["If-None-Match"] = str(cursor["etag"])
        if cursor and cursor.get("last_modified"):
            headers["If-Modified-Since"] = str(cursor["last_modified"])
        response = request(self.ctx, "GET", self.feed_url, headers=headers)
        if response.status_code == 304:
            yield Page([], cursor, done=True)
            return
        now = self.ctx.clock()
        mentions, skipped = parse(response.content, now)
        if cursor is None:
            oldest = now - self.ctx.source.backfill
            mentions = [m for m in mentions if m.created_at >= oldest]
        if not self.is_query:
            mentions = [m for m in mentions if text_matches(m.text, query.terms)]
        new_cursor = {
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
        }
        yield Page(mentions, new_cursor, skipped, done=True)
