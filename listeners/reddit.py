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

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from earful.text import unescape
from listeners import _http
from listeners._reddit_common import PLATFORM, thing_gone
from listeners._reddit_oauth import OAuthApp
from listeners._reddit_rss import FeedSearch, parse_rss
from listeners._reddit_walk import is_open, time_window, valid_cursor
from listeners.base import Listener, Query, SourceError, parse_each

VERSION = "0.1.0"


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


class RedditListener(OAuthApp, FeedSearch, Listener):
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

    # OAuthApp parses through this method: listeners/_reddit_oauth.py cannot import parse()
    def _parse(self, data: Any) -> tuple[list[Mention], int]:
        return parse(data, self.ctx.source.key)

    # the pages come from OAuthApp._poll_oauth (listeners/_reddit_oauth.py, which also holds
    # the token and the recheck `gone`) or FeedSearch._poll_rss (listeners/_reddit_rss.py)
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
        token, q = self._token(), build_query(query)
        pages = (
            self._poll_oauth(q, token, now, lower, anchor)
            if token
            else self._poll_rss(q, lower, anchor)
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


__all__ = [
    "RedditListener",
    "build_query",
    "is_open",
    "parse",
    "parse_rss",
    "time_window",
    "user_agent",
    "valid_cursor",
]
