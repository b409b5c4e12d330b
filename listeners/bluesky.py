"""Bluesky: `app.bsky.feed.searchPosts sort=latest` with an app-password session.

Endpoint: `GET {host}/xrpc/app.bsky.feed.searchPosts?q=TERM&sort=latest&limit=100&since=T`,
one search per configured term (phrases quoted), then
`app.bsky.actor.getProfiles?actors=...` (at most 25 per call) for follower
counts, which PostView does not carry.

Auth in 2026: the unauthenticated host (`public.api.bsky.app`) is often
switched off for search and never allows a `cursor`; it answers 403. The
dependable path is an app password (`identifier_env`, `password_env`):
`com.atproto.server.createSession` once per process (the session lives in
`ctx.state`), `refreshSession` when the access JWT expires (createSession is
limited to 30 / 5 min and 300 / day), then Bearer calls to the PDS
(`base_url`, default https://bsky.social). Without credentials the listener
tries the public host and, on 403, reports "needs credentials".

Limits: PDS 3000 requests / 5 min per IP; `RateLimit-Reset` is epoch seconds.

Cursor: `{"terms": {TERM: state}}`, one step state per search term. A closed
state is `{"since": ISO}`, the newest sortAt stored. sortAt is
min(createdAt, indexedAt): what `since`/`until` compare and `sort=latest`
orders by, so the watermark lives in the same time as the filter (an
indexedAt watermark runs ahead of it and skips posts the AppView indexes
late). Clients may set any `createdAt`; the min with indexedAt clamps future
ones. A step asks for `since = watermark - overlap` (the backfill window on a
first poll), walks pages newest first down to that bound and deduplicates by
at-URI. Logged in, pages follow `cursor` (with the `until` of the query it
came from). Where none leads on (the public host refuses cursors; a full page
came without one; a cursor page came back empty, since a cursor "may not
allow scrolling through the entire result set") the next page asks `until` =
the oldest sortAt seen plus 1 ms (`until` is exclusive; posts sharing that
millisecond come back and are deduplicated). Only a short page without a
cursor, or an empty answer to a plain query, ends a walk above the bound.
Every page saves what it covers: while a step is under way its state is
`{"since": old watermark, "floor": the step's lower bound, "gap_until": the
oldest sortAt read + 1 ms, "newest": the newest sortAt seen}`. A walk cut
short by `max_pages` (or a failure) leaves that gap open and the last page
says `more`; the next walk continues the gap (`since=floor`, `until=gap_until`,
newest first) and only once it reaches the floor does `since` move to
`newest`. So a brand with more posts per poll than one walk reads catches up
over polls instead of re-reading its newest pages. An old `{"since": X}`
cursor applies to every term; a term added since starts with a backfill.
More than `limit` posts in one millisecond with no cursor to page through
them (the public host, or the AppView sent none): the walk reads the first
`limit` the server returns for that millisecond, then steps below it; the
others in that millisecond are not fetched. Logged in, a cursor pages
through them, up to `max_pages` x `limit` per walk: a walk that cannot lower
its gap steps below that millisecond too. If the public host refuses an
`until` page too, the step ends where the host let it see.
external_id = at-URI; native_id = "uri|cid" (a reply needs both).

Recheck (`gone`, earful/recheck.py): `app.bsky.feed.getPosts?uris=...` (25 per
call, logged in or on the public host): a requested at-URI missing from a
well-formed answer is gone (deleted, or its author or the post taken down,
deactivated, or blocking our account: none of them can be answered). A failed
call, or an answer about a URI we did not ask for, ends the round with
nothing purged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners import _http
from listeners._bluesky_recheck import PostRecheck
from listeners._bluesky_session import Session, jwt_expiry
from listeners._bluesky_walk import GapWalk, is_open, sort_at, term_cursor, term_states
from listeners.base import Listener, Query, SourceError, parse_each

PLATFORM = "bluesky"
PUBLIC_HOST = "https://public.api.bsky.app"
INVALID_HANDLE = "handle.invalid"  # what the AppView shows for a handle that fails verification
PROFILES_PER_CALL = 25
FOLLOWERS_TTL = timedelta(hours=6)


class BlueskyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier_env: str | None = None
    password_env: str | None = None
    public_url: str = PUBLIC_HOST
    limit: int = Field(100, ge=1, le=100)
    max_pages: int = Field(10, ge=1, le=100)
    overlap_seconds: int = Field(300, ge=0)


def web_url(uri: str, did: str | None = None) -> str:
    """at://did/app.bsky.feed.post/rkey -> https://bsky.app/profile/did/post/rkey."""
    body = uri.removeprefix("at://")
    repo, _, rkey = body.partition("/app.bsky.feed.post/")
    if not rkey:
        raise ValueError(f"not a post at-URI: {uri!r}")
    return f"https://bsky.app/profile/{did or repo}/post/{rkey}"


def parse_post(
    post: Mapping[str, Any], followers: Mapping[str, int] | None = None, source: str | None = None
) -> Mention:
    """One PostView -> Mention. created_at is min(createdAt, indexedAt) (Bluesky's sortAt)."""
    uri, cid = str(post["uri"]), str(post["cid"])
    author = post["author"]
    did = str(author["did"])
    record = post["record"]
    indexed = _http.iso(post["indexedAt"])
    try:
        created = min(_http.iso(record["createdAt"]), indexed)
    except (KeyError, ValueError):
        created = indexed
    reply = record.get("reply") or {}
    langs = record.get("langs") or []
    return new_mention(
        platform=PLATFORM,
        external_id=uri,
        url=web_url(uri, did),
        author=_handle(author) or did,
        text=str(record.get("text") or ""),
        created_at=created,
        author_followers=(followers or {}).get(did),
        lang=str(langs[0]) if langs else None,
        in_reply_to=(reply.get("parent") or {}).get("uri"),
        thread_id=(reply.get("root") or {}).get("uri") or uri,
        native_id=f"{uri}|{cid}",
        engagement=sum(
            int(post.get(k) or 0) for k in ("likeCount", "repostCount", "replyCount", "quoteCount")
        ),
        raw=dict(post),
        source=source,
    )


def _handle(author: Mapping[str, Any]) -> str | None:
    """The author's handle, or None when it failed verification: the AppView then sends the
    placeholder `handle.invalid` for every such account, which would merge them into one."""
    handle = author.get("handle")
    return str(handle) if handle and handle != INVALID_HANDLE else None


def parse(
    payload: Any, followers: Mapping[str, int] | None = None, source: str | None = None
) -> tuple[list[Mention], int]:
    """A searchPosts response -> (mentions deduplicated by uri, malformed items skipped)."""
    posts = payload.get("posts") if isinstance(payload, dict) else None
    if not isinstance(posts, list):
        raise SourceError("bad_payload", "Bluesky searchPosts sent no posts list", transient=True)
    return parse_each(posts, lambda post: parse_post(post, followers, source))


def search_queries(query: Query) -> list[str]:
    if query.override:
        return [query.override]
    return [f'"{t}"' if exact else t for t, exact in _http.search_terms(query.terms)]


class BlueskyListener(Session, GapWalk, PostRecheck, Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = BlueskyOptions
    default_base_url = "https://bsky.social"
    sees = (
        "Bluesky search sees public posts the AppView has indexed; without an app password "
        "the public search endpoint is often refused and never follows a cursor."
    )
    deletions = "A post deleted since it was stored is missing from getPosts."
    options: BlueskyOptions

    # -- HTTP (the session and its GET: Session, listeners/_bluesky_session.py) -----
    def _followers(self, dids: list[str]) -> dict[str, int]:
        cache: dict[str, tuple[int, datetime]] = self.ctx.state.setdefault("bluesky:followers", {})
        now = self.ctx.clock()
        todo = sorted({d for d in dids if d not in cache or now - cache[d][1] > FOLLOWERS_TTL})
        for i in range(0, len(todo), PROFILES_PER_CALL):
            batch = todo[i : i + PROFILES_PER_CALL]
            try:
                data = self._get("app.bsky.actor.getProfiles", [("actors", d) for d in batch])
            except SourceError:
                break  # follower counts are nice to have; never fail a poll for them
            for profile in data.get("profiles") or [] if isinstance(data, dict) else []:
                if isinstance(profile, dict) and isinstance(profile.get("followersCount"), int):
                    cache[str(profile.get("did"))] = (profile["followersCount"], now)
        return {d: cache[d][0] for d in dids if d in cache}

    # GapWalk parses through this method: listeners/_bluesky_walk.py cannot import parse()
    def _parse(self, data: Any, followers: Mapping[str, int]) -> tuple[list[Mention], int]:
        return parse(data, followers, self.ctx.source.key)

    # -- polling --------------------------------------------------------------------
    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        terms = search_queries(query)
        states = term_states(cursor, terms)
        for q in terms:
            yield from self._walk(q, states)
        # a step cut short: the poller walks again (--once) or comes back soon
        yield Page([], term_cursor(states), done=True, more=any(map(is_open, states.values())))

    # the walk itself: GapWalk (listeners/_bluesky_walk.py)

    # recheck: PostRecheck (listeners/_bluesky_recheck.py)


__all__ = [
    "BlueskyListener",
    "is_open",
    "jwt_expiry",
    "parse",
    "parse_post",
    "sort_at",
    "term_states",
    "web_url",
]
