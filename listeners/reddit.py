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

Cursor: `{"since": epoch}`, the newest `created_utc` stored. A step walks
`sort=new` pages down to `since - overlap` (the backfill window on a first
poll) and deduplicates by fullname (`t3_...` posts, `t1_...` comments).
Every page saves what it covers: while a step is under way the cursor is
`{"since": old watermark, "floor": the step's lower bound, "after": the
fullname of the last item read, "newest": the newest created_utc seen}`. A
walk cut short by `max_pages` (or a failure) leaves that gap open and its
last page says `more`; the next walk continues from `after` (new posts
arrive above it, so the anchor does not move) and the watermark moves to
`newest` only when the step ends. A step also ends, above its bound, when
the listing stops: an empty page after `after` (the anchor post was deleted,
or new posts pushed it past the cap) or a full page without `after`. Reddit
serves at most about 1,000 items per listing (per query, counted from the
newest), so posts below that are out of reach through search: the step
closes at `newest` and records `"ended": "anchor_gone"` or
`"listing_cap"` in the cursor rather than re-reading the newest pages
forever (either may also be a listing whose last page was exactly full: the
responses cannot tell them apart). A busy brand over the cap between polls loses the oldest of them;
poll more often or narrow the query (`subreddit`).
Content that is `[deleted]`, `[removed]` or `[ Removed by Reddit ]` /
`[ Removed by moderator ]` is never stored: Reddit's terms say it must be
purged, so such items are skipped, and a page lists their fullnames in
`Page.gone` so a copy stored before the deletion is purged too (a post
deleted after it was stored is seen when a later walk reads it again: the
overlap below the watermark, or a gap being filled).

Recheck (`gone`, earful/recheck.py), with OAuth only: `GET {oauth_url}/api/info
?id=t3_..,t1_..` (100 fullnames per call): an item shown deleted or removed
(`thing_gone`), or missing from a well-formed Listing, is gone. Without OAuth
there is no recheck: the RSS feed has no lookup by id.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from earful.text import unescape
from listeners import _http
from listeners.base import (
    Listener,
    Query,
    SourceError,
    StoredPost,
    check_asked,
    parse_each,
)

PLATFORM = "reddit"
_KINDS = ("t3_", "t1_")
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


def thing_gone(thing: Mapping[str, Any]) -> bool:
    """A listing child whose text was deleted or removed (it must be purged, not kept)."""
    kind, d = thing["kind"], thing["data"]
    if kind == "t3":
        return bool(
            is_gone(d.get("selftext")) or d.get("removed_by_category") or is_gone(d.get("title"))
        )
    return kind == "t1" and is_gone(d.get("body"))


def gone_ids(payload: Any) -> tuple[str, ...]:
    """The fullnames of a Listing's deleted or removed items (stored copies get purged)."""
    out = []
    for child in (payload.get("data") or {}).get("children") or []:
        try:
            if thing_gone(child):
                out.append(str(child["data"]["name"]))
        except (KeyError, TypeError, AttributeError):
            continue  # malformed: counted by parse
    return tuple(out)


def parse_thing(thing: Mapping[str, Any], source: str | None = None) -> Mention | None:
    """A t3 (post) or t1 (comment) listing child -> Mention, or None when deleted/removed."""
    kind, d = thing["kind"], thing["data"]
    if kind not in ("t3", "t1"):
        raise ValueError(f"unexpected kind {kind!r}")
    if thing_gone(thing):
        return None
    if kind == "t3":
        body = d.get("selftext") or ""
        text = f"{d['title']}\n\n{body}".strip()
        in_reply_to, thread = None, str(d["name"])
        engagement = int(d.get("score") or 0) + int(d.get("num_comments") or 0)
    else:
        text = d.get("body") or ""
        in_reply_to, thread = d.get("parent_id"), d.get("link_id")
        engagement = int(d.get("score") or 0)
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
    deletions = (
        "With OAuth, a post deleted or removed since it was stored shows so in /api/info; "
        "through the RSS feed it is seen only if a later walk reads it again."
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

    def rechecks(self) -> bool:
        return bool(self.ctx.secret("client_id_env") and self.ctx.secret("client_secret_env"))

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """Fullnames /api/info shows deleted or removed, or no longer lists (OAuth only)."""
        token = self._token()
        if not token:
            return ()
        names = list(dict.fromkeys(p.external_id for p in posts if p.external_id[:3] in _KINDS))
        url = f"{self.options.oauth_url.rstrip('/')}/api/info"
        headers = {**self._headers(), "Authorization": f"bearer {token}"}
        out: list[str] = []
        for i in range(0, len(names), 100):
            batch = names[i : i + 100]
            data = _http.get_json(
                self.ctx, url, params={"id": ",".join(batch), "raw_json": 1}, headers=headers
            )
            try:
                children = data["data"]["children"]
                seen = {str(c["data"]["name"]): thing_gone(c) for c in children}
            except (KeyError, TypeError, AttributeError) as exc:
                raise SourceError("bad_payload", "recheck: Reddit sent no listing") from exc
            check_asked(batch, seen)
            out += [n for n in batch if seen.get(n, True)]
        return tuple(out)

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        now = self.ctx.clock()
        cur = valid_cursor(cursor)
        since = cur.get("since")
        newest: float | None = None
        if is_open(cur):  # continue the step a previous walk left unfinished
            lower, anchor = float(cur["floor"]), str(cur["after"])
            newest = float(cur["newest"]) if cur.get("newest") is not None else None
        else:
            lower = (
                float(since) - self.options.overlap_seconds
                if since is not None
                else (now - self.ctx.source.backfill).timestamp()
            )
            anchor = None
        token = self._token()
        pages = (
            self._poll_oauth(query, token, now, lower, anchor)
            if token
            else self._poll_rss(query, lower, anchor)
        )
        saved: dict[str, Any] | None = cursor
        for mentions, skipped, stamps, state, after, gone in pages:
            newest = max([*stamps, *([newest] if newest is not None else [])], default=None)
            if state == "more" and after:
                # stored so far: the step from its top down to `after`; the rest is a gap
                saved = {"floor": lower, "after": after, "newest": newest}
                saved |= {"since": float(since)} if since is not None else {}
            else:  # the step is over: the watermark moves to the newest post it saw
                keep = [x for x in (newest, since) if x is not None]
                saved = {"since": max(map(float, keep))} if keep else {}
                if state != "done":  # the listing ended above the bound: say how
                    saved["ended"] = "anchor_gone" if state == "more" else state
            kept = [m for m in mentions if m.created_at.timestamp() >= lower]
            yield Page(kept, saved, skipped, gone=gone)
        # max_pages read with the gap still open: the poller walks again or comes back soon
        yield Page([], saved, done=True, more=bool(saved and is_open(saved)))

    def _poll_oauth(
        self, query: Query, token: str, now: datetime, lower: float, anchor: str | None
    ) -> Iterator[tuple[list[Mention], int, list[float], str, str | None, tuple[str, ...]]]:
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
        if anchor:
            params["after"] = anchor
        headers = {**self._headers(), "Authorization": f"bearer {token}"}
        for _page in range(self.options.max_pages):
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
            anchored = "after" in params
            state = walk_state(anchored, size, stamps, bool(after), lower, self.options.limit)
            yield mentions, skipped, stamps, state, str(after) if after else None, gone_ids(data)
            if state != "more":
                return
            params = {**params, "after": after}

    def _poll_rss(
        self, query: Query, lower: float, anchor: str | None
    ) -> Iterator[tuple[list[Mention], int, list[float], str, str | None, tuple[str, ...]]]:
        sub = self.options.subreddit
        path = "/search.rss" if sub == "all" else f"/r/{quote(sub)}/search.rss"
        params: dict[str, Any] = {
            "q": build_query(query),
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


def walk_state(
    anchored: bool, size: int, stamps: list[float], has_next: bool, lower: float, limit: int
) -> str:
    """After one page of a newest-first walk: "done" (bound or end reached), "more", or how
    the listing ended before the bound.

    "anchor_gone": an empty page after `after` (the anchor post was deleted, or
    new posts pushed it past the listing's cap). "listing_cap": a full page with
    no `after` (Reddit stops a listing at about 1,000 items).
    """
    if stamps and min(stamps) < lower:
        return "done"
    if not size:
        return "anchor_gone" if anchored else "done"
    if not has_next:
        return "done" if size < limit else "listing_cap"
    return "more"


def is_open(cur: Mapping[str, Any]) -> bool:
    """A step is under way: the next walk continues below its `after` anchor."""
    return "after" in cur


def valid_cursor(cursor: Mapping[str, Any] | None) -> dict[str, Any]:
    """The saved cursor, or {} (a backfill) when a field does not read as what it should be."""
    cur = dict(cursor or {})
    try:
        for key in ("since", "floor", "newest"):
            if cur.get(key) is not None:
                float(cur[key])
    except (TypeError, ValueError):
        return {}
    if is_open(cur) and not (isinstance(cur["after"], str) and cur.get("floor") is not None):
        return {}
    return cur


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


__all__ = [
    "RedditListener",
    "build_query",
    "is_open",
    "parse",
    "parse_rss",
    "user_agent",
    "valid_cursor",
]
