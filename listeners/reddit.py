"""Reddit: OAuth search `sort=new` with approved app credentials, else the public RSS search feed.

Endpoints:
- OAuth (`client_id_env`, `client_secret_env`): `POST {base_url}/api/v1/access_token`
  (client credentials, Basic auth; the token lives in `ctx.state` until it
  expires), then `GET {oauth_url}/r/{subreddit}/search?q=Q&sort=new&t=..&limit=100&raw_json=1`,
  walking `after` fullnames.
- Without credentials: `GET {base_url}/search.rss?q=Q&sort=new&limit=100` (Atom,
  read with feedparser; no scores or comment counts). The feed carries no
  `after` token, so a full page is followed by `after=<its last entry's id>`
  (entry ids are fullnames), as the JSON listing would be.

Auth in 2026: the anonymous `.json` endpoints were shut down in May 2026 and
self-service API keys closed in late 2025, so a new project gets only the RSS
feed (which still served anonymous requests in mid-2026 but is "under
review") unless it already holds an approved OAuth app. Reddit requires a
User-Agent of the form `<platform>:<app id>:<version> (by /u/<username>)`.

Limits: 100 queries/min per OAuth client id; `X-Ratelimit-Reset` is seconds
remaining. A 403 HTML page ("whoa there, pardner!") is an IP block.

Cursor: `{"since": epoch}`, the newest `created_utc` stored. A poll walks
`sort=new` pages down to `since - overlap`, deduplicates by fullname
(`t3_...` posts, `t1_...` comments) and moves the watermark only after all
pages are stored. A walk cut short keeps the old one: by `max_pages`, by an
empty page after `after` (its anchor post was deleted between requests), or
by a full page without `after` above the bound (a listing stops at about
1,000 items, and what lies below is out of reach).
Content that is `[deleted]`, `[removed]` or `[ Removed by Reddit ]` /
`[ Removed by moderator ]` is never stored: Reddit's terms say it must be
purged, so such items are skipped.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from earful.text import unescape
from listeners import _http
from listeners.base import Listener, Query, SourceError, parse_each

PLATFORM = "reddit"
VERSION = "0.1.0"
_BLANKS = re.compile(r"[ \t]*\n(?:[ \t]*\n)+[ \t]*")
# What Reddit leaves in place of deleted or removed text: `[deleted]`, `[removed]`, and the
# newer `[ Removed by Reddit ]` / `[ Removed by moderator ]` (inner spaces, any case).
_GONE = re.compile(r"\[\s*(?:deleted|removed(?:\s+by\s+[a-z ]+?)?)\s*\]", re.IGNORECASE)
_WINDOWS = (
    ("hour", 3600),
    ("day", 86400),
    ("week", 604800),
    ("month", 2678400),
    ("year", 31622400),
)


class RedditOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id_env: str | None = None
    client_secret_env: str | None = None
    username: str | None = None  # the Reddit account that runs this app, for the User-Agent
    subreddit: str = "all"
    oauth_url: str = "https://oauth.reddit.com"
    limit: int = Field(100, ge=1, le=100)
    max_pages: int = Field(10, ge=1, le=10)
    overlap_seconds: int = Field(600, ge=0)


def user_agent(username: str | None) -> str:
    """Reddit's required form: `<platform>:<app id>:<version> (by /u/<username>)`."""
    by = f"by /u/{username}" if username else f"+{_http.PROJECT_URL}"
    return f"python:earful:{VERSION} ({by})"


def build_query(query: Query) -> str:
    """Terms OR'ed, phrases quoted: `acme OR "acme cloud"`."""
    if query.override:
        return query.override
    return " OR ".join(f'"{t}"' if exact else t for t, exact in _http.search_terms(query.terms))


def is_gone(text: str | None) -> bool:
    return _GONE.fullmatch((text or "").strip()) is not None


def parse_thing(thing: Mapping[str, Any], source: str | None = None) -> Mention | None:
    """A t3 (post) or t1 (comment) listing child -> Mention, or None when deleted/removed."""
    kind, d = thing["kind"], thing["data"]
    if kind == "t3":
        body = d.get("selftext") or ""
        if is_gone(body) or d.get("removed_by_category") or is_gone(d.get("title")):
            return None
        text = f"{d['title']}\n\n{body}".strip()
        in_reply_to, thread = None, str(d["name"])
        engagement = int(d.get("score") or 0) + int(d.get("num_comments") or 0)
    elif kind == "t1":
        text = d.get("body") or ""
        if is_gone(text):
            return None
        in_reply_to, thread = d.get("parent_id"), d.get("link_id")
        engagement = int(d.get("score") or 0)
    else:
        raise ValueError(f"unexpected kind {kind!r}")
    return new_mention(
        platform=PLATFORM,
        external_id=str(d["name"]),
        url="https://www.reddit.com" + str(d["permalink"]).split("?")[0],
        author=str(d.get("author") or "[deleted]"),
        text=unescape(text),  # raw_json=1 sends plain Markdown; older payloads are escaped
        created_at=_http.epoch(d["created_utc"]),
        in_reply_to=in_reply_to,
        thread_id=thread,
        native_id=str(d["name"]),
        engagement=engagement,
        raw=dict(d),
        source=source,
    )


def parse(payload: Any, source: str | None = None) -> tuple[list[Mention], int]:
    """A Listing -> (mentions without purged items, malformed items skipped)."""
    try:
        children = payload["data"]["children"]
        assert isinstance(children, list)
    except (KeyError, TypeError, AssertionError) as exc:
        raise SourceError("bad_payload", "Reddit sent no listing", transient=True) from exc
    return parse_each(children, lambda child: parse_thing(child, source))


def parse_rss(content: bytes | str, source: str | None = None) -> tuple[list[Mention], int]:
    """The Atom search feed -> (mentions, malformed entries skipped)."""
    return parse_each(_feed(content).entries, lambda e: _rss_entry(e, source))


def _feed(content: bytes | str) -> Any:
    feed = feedparser.parse(content)
    if feed.bozo and not feed.entries:
        raise SourceError("bad_payload", "Reddit sent a feed that does not parse", transient=True)
    return feed


def _rss_entry(e: Any, source: str | None) -> Mention | None:
    fullname = str(e["id"])
    if not fullname.startswith(("t3_", "t1_")):
        raise ValueError(f"not a fullname: {fullname!r}")
    html = e["content"][0]["value"] if e.get("content") else e.get("summary", "")
    body = _rss_body(html)
    title = str(e.get("title") or "")
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


def time_window(seconds: float) -> str:
    """The smallest Reddit `t=` window that covers `seconds` back from now."""
    for name, size in _WINDOWS:
        if seconds <= size:
            return name
    return "all"


class RedditListener(Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = RedditOptions
    default_base_url = "https://www.reddit.com"
    sees = (
        "Reddit search sees posts (not comments) by title and text; without approved OAuth "
        "credentials only the anonymous RSS search feed, without scores or comment counts."
    )
    options: RedditOptions

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": user_agent(self.options.username)}

    def _token_key(self) -> str:
        return f"reddit:token:{self.base_url}:{self.ctx.secret('client_id_env')}"

    def _token(self) -> str | None:
        cid, secret = self.ctx.secret("client_id_env"), self.ctx.secret("client_secret_env")
        if not (cid and secret):
            return None
        key = self._token_key()
        now = self.ctx.clock()
        cached = self.ctx.state.get(key)
        if cached and now < cached[1]:
            return str(cached[0])
        try:
            resp = _http.request(
                self.ctx,
                "POST",
                f"{self.base_url}/api/v1/access_token",
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(cid, secret),
                headers=self._headers(),
                attempts=2,
            )
            data = resp.json()
            token, ttl = str(data["access_token"]), float(data.get("expires_in") or 3600)
        except SourceError as exc:
            if exc.kind == "needs_credentials":
                raise SourceError(
                    "needs_credentials",
                    "Reddit refused the app credentials (client_id_env, client_secret_env)",
                ) from exc
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError("bad_payload", "Reddit sent no access token") from exc
        self.ctx.state[key] = (token, now + timedelta(seconds=max(60.0, ttl - 60)))
        return token

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        now = self.ctx.clock()
        since = (cursor or {}).get("since")
        lower = (
            float(since) - self.options.overlap_seconds
            if since is not None
            else (now - self.ctx.source.backfill).timestamp()
        )
        token = self._token()
        pages = (
            self._poll_oauth(query, token, now, lower) if token else self._poll_rss(query, lower)
        )
        newest, last = float(since) if since is not None else None, "done"
        for mentions, skipped, stamps, state in pages:
            newest = max([*stamps, *([newest] if newest is not None else [])], default=None)
            yield Page([m for m in mentions if m.created_at.timestamp() >= lower], None, skipped)
            last = state
        # "more" after the last page: max_pages ran out before the bound
        keep = newest if last == "done" else (float(since) if since is not None else None)
        yield Page([], {"since": keep} if keep is not None else None, done=True)

    def _poll_oauth(
        self, query: Query, token: str, now: datetime, lower: float
    ) -> Iterator[tuple[list[Mention], int, list[float], str]]:
        sub = self.options.subreddit
        url = f"{self.options.oauth_url.rstrip('/')}/r/{quote(sub)}/search"
        params: dict[str, Any] = {
            "q": build_query(query),
            "sort": "new",
            "t": time_window(now.timestamp() - lower),
            "limit": self.options.limit,
            "raw_json": 1,
            "restrict_sr": int(sub != "all"),
            "type": "link",
        }
        headers = {**self._headers(), "Authorization": f"bearer {token}"}
        for page in range(self.options.max_pages):
            try:
                data = _http.get_json(self.ctx, url, params=params, headers=headers)
            except SourceError as exc:
                if exc.kind == "needs_credentials":  # a revoked token: fetch a new one next time
                    self.ctx.state.pop(self._token_key(), None)
                raise
            mentions, skipped = parse(data, self.ctx.source.key)
            stamps = _stamps(data)
            after = data["data"].get("after")
            size = len(data["data"]["children"])
            state = walk_state(page, size, stamps, bool(after), lower, self.options.limit)
            yield mentions, skipped, stamps, state
            if state != "more":
                return
            params = {**params, "after": after}

    def _poll_rss(
        self, query: Query, lower: float
    ) -> Iterator[tuple[list[Mention], int, list[float], str]]:
        sub = self.options.subreddit
        path = "/search.rss" if sub == "all" else f"/r/{quote(sub)}/search.rss"
        params: dict[str, Any] = {
            "q": build_query(query),
            "sort": "new",
            "limit": self.options.limit,
        }
        if sub != "all":
            params["restrict_sr"] = 1
        for page in range(self.options.max_pages):
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
            state = walk_state(
                page, size, stamps, size >= self.options.limit, lower, self.options.limit
            )
            yield mentions, skipped, stamps, state
            last = feed.entries[-1].get("id") if feed.entries else None
            if state != "more" or not isinstance(last, str) or not last:
                return
            params = {**params, "after": last}


def walk_state(
    page: int, size: int, stamps: list[float], has_next: bool, lower: float, limit: int
) -> str:
    """After one page of a newest-first walk: "done" (bound or end reached), "more", or "cut".

    "cut" means the listing stopped before the bound without saying it ended: an
    empty page after `after` (the anchor post vanished), or a full page with no
    `after` (Reddit stops a listing at about 1,000 items).
    """
    if stamps and min(stamps) < lower:
        return "done"
    if not size:
        return "done" if page == 0 else "cut"
    if not has_next:
        return "done" if size < limit else "cut"
    return "more"


def _entry_stamp(e: Any) -> float | None:
    try:
        return float(calendar.timegm(e.get("published_parsed") or e["updated_parsed"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _stamps(data: Any) -> list[float]:
    out = []
    for child in (data.get("data") or {}).get("children") or []:
        try:
            out.append(float(child["data"]["created_utc"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out


__all__ = ["RedditListener", "build_query", "parse", "parse_rss", "user_agent"]
