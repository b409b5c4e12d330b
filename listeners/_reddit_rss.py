"""Reddit's anonymous Atom search feed: its parser, and the walk down its pages.

The feed is what a project without an approved OAuth app gets (see
listeners/reddit.py for endpoint, auth and cursor). Its parsing is apart from
the JSON Listing's because it reads another format through feedparser;
`FeedSearch` holds RedditListener's walk over it (a mixin: the listener
supplies `ctx`, `options`, `base_url` and the method stubbed below) and takes
the query already built, so this module need not import the listener's.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import feedparser

from earful.models import Mention, new_mention
from listeners import _http
from listeners._reddit_common import PLATFORM, is_gone
from listeners._reddit_walk import walk_state
from listeners.base import Context, SourceError, parse_each

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.reddit import RedditOptions

_BLANKS = re.compile(r"[ \t]*\n(?:[ \t]*\n)+[ \t]*")


def parse_rss(content: bytes | str, source: str | None = None) -> tuple[list[Mention], int]:
    """The Atom search feed -> (mentions, malformed entries skipped)."""
    return parse_each(_feed(content).entries, lambda e: _rss_entry(e, source))


def _feed(content: bytes | str) -> Any:
    feed = feedparser.parse(content)
    if feed.bozo and not feed.entries:
        raise SourceError("bad_payload", "Reddit sent a feed that does not parse", transient=True)
    return feed


def _rss_text(e: Any) -> tuple[str, str]:
    html = e["content"][0]["value"] if e.get("content") else e.get("summary", "")
    return str(e.get("title") or ""), _rss_body(html)


def rss_gone_ids(entries: Any) -> tuple[str, ...]:
    """The fullnames of a feed's deleted or removed entries (stored copies get purged)."""
    out = []
    for e in entries:
        try:
            fullname = str(e["id"])
            if fullname.startswith(("t3_", "t1_")) and any(map(is_gone, _rss_text(e))):
                out.append(fullname)
        except (KeyError, TypeError, IndexError, AttributeError):
            continue  # malformed: counted by parse
    return tuple(out)


def _rss_entry(e: Any, source: str | None) -> Mention | None:
    fullname = str(e["id"])
    if not fullname.startswith(("t3_", "t1_")):
        raise ValueError(f"not a fullname: {fullname!r}")
    title, body = _rss_text(e)
    if is_gone(body) or is_gone(title):
        return None
    stamp = e.get("published_parsed") or e["updated_parsed"]
    return new_mention(
        platform=PLATFORM,
        external_id=fullname,
        url=str(e["link"]),
        author=str(e.get("author") or "[deleted]").strip().removeprefix("/u/"),
        text=f"{title}\n\n{body}".strip(),
        created_at=_http.epoch(calendar.timegm(stamp)),
        thread_id=fullname if fullname.startswith("t3_") else None,
        native_id=fullname,
        raw={"id": fullname, "title": title, "link": str(e["link"])},
        source=source,
    )


def _rss_body(html: str) -> str:
    """The post's own text: the `<div class="md">` block, without "submitted by" boilerplate."""
    start = html.find('<div class="md">')
    if start < 0:
        return ""
    end = html.find("<!-- SC_ON -->", start)
    text = _http.html_to_text(html[start : end if end > 0 else None])
    return _BLANKS.sub("\n\n", text).strip()


def _entry_stamp(e: Any) -> float | None:
    try:
        return float(calendar.timegm(e.get("published_parsed") or e["updated_parsed"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class FeedSearch:
    """RedditListener's walk down the anonymous search feed (mixed into the listener)."""

    ctx: Context
    options: RedditOptions
    base_url: str

    # RedditListener's own method (listeners/reddit.py) replaces this
    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _poll_rss(
        self, q: str, lower: float, anchor: str | None
    ) -> Iterator[tuple[list[Mention], int, list[float], str, str | None, tuple[str, ...]]]:
        sub = self.options.subreddit
        path = "/search.rss" if sub == "all" else f"/r/{quote(sub)}/search.rss"
        params: dict[str, Any] = {
            "q": q,
            "sort": "new",
            "limit": self.options.limit,
        }
        if sub != "all":
            params["restrict_sr"] = 1
        if anchor:
            params["after"] = anchor
        for _page in range(self.options.max_pages):
            resp = _http.request(
                self.ctx, "GET", self.base_url + path, params=params, headers=self._headers()
            )
            feed = _feed(resp.content)
            mentions, skipped = parse_each(
                feed.entries, lambda e: _rss_entry(e, self.ctx.source.key)
            )
            stamps = [t for t in map(_entry_stamp, feed.entries) if t is not None]
            size = len(feed.entries)
            # no `after` in a feed: a full page may have more below it
            full = size >= self.options.limit
            state = walk_state("after" in params, size, stamps, full, lower, self.options.limit)
            last = feed.entries[-1].get("id") if feed.entries else None
            after = last if isinstance(last, str) and last else None
            yield mentions, skipped, stamps, state, after, rss_gone_ids(feed.entries)
            if state != "more" or after is None:
                return
            params = {**params, "after": after}
