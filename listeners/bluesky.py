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

Cursor: `{"since": ISO}`, the newest sortAt stored. sortAt is
min(createdAt, indexedAt): what `since`/`until` compare and `sort=latest`
orders by, so the watermark lives in the same time as the filter (an
indexedAt watermark runs ahead of it and skips posts the AppView indexes
late). Clients may set any `createdAt`; the min with indexedAt clamps future
ones. A poll asks for `since = watermark - overlap`, walks pages newest first
down to that bound, deduplicates by at-URI, and moves the watermark only
after every page is stored. Logged in, pages follow `cursor` (with the
`until` of the query it came from). Where none leads on (the public host
refuses cursors; a full page came without one; a cursor page came back empty,
since a cursor "may not allow scrolling through the entire result set") the
next page asks `until` = the oldest sortAt seen plus 1 ms (`until` is
exclusive; posts sharing that millisecond come back and are deduplicated).
Only a short page without a cursor, or an empty answer to a plain query, ends
a walk above the bound.
A walk cut short by `max_pages`, or stuck on more than `limit` posts in one
millisecond, keeps the old watermark, so the next poll refetches rather than
leaves a gap. If the public host refuses an `until` page too, the walk ends
where the host let it see.
external_id = at-URI; native_id = "uri|cid" (a reply needs both).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners import _http
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


def indexed_at(post: Any) -> datetime | None:
    try:
        return _http.iso(post["indexedAt"])
    except (KeyError, TypeError, ValueError):
        return None


def sort_at(post: Any) -> datetime | None:
    """Bluesky's sortAt, min(createdAt, indexedAt): the time `since`, `until` and `latest` use."""
    indexed = indexed_at(post)
    if indexed is None:
        return None
    try:
        return min(_http.iso(post["record"]["createdAt"]), indexed)
    except (KeyError, TypeError, ValueError):
        return indexed


def search_queries(query: Query) -> list[str]:
    if query.override:
        return [query.override]
    return [f'"{t}"' if exact else t for t, exact in _http.search_terms(query.terms)]


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT (read, not verified: we only need to know when to refresh)."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return _http.epoch(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class BlueskyListener(Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = BlueskyOptions
    default_base_url = "https://bsky.social"
    sees = (
        "Bluesky search sees public posts the AppView has indexed; without an app password "
        "the public search endpoint is often refused and never follows a cursor."
    )
    options: BlueskyOptions

    # -- session ------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str] | None:
        ident, pw = self.ctx.secret("identifier_env"), self.ctx.secret("password_env")
        return (ident, pw) if ident and pw else None

    def _session(self, force_refresh: bool = False) -> dict[str, Any] | None:
        creds = self._credentials()
        if creds is None:
            return None
        key = f"bluesky:session:{self.base_url}:{creds[0]}"
        session = self.ctx.state.get(key)
        now = self.ctx.clock()
        if session is None:
            session = self._login(*creds)
        elif force_refresh or now >= session["expires_at"] - timedelta(seconds=60):
            try:
                session = self._xrpc_session("refreshSession", session["refreshJwt"], None)
            except SourceError as exc:
                if exc.kind == "rate_limited":
                    raise
                session = self._login(*creds)  # refresh token expired or revoked
        self.ctx.state[key] = session
        return session

    def _login(self, identifier: str, password: str) -> dict[str, Any]:
        try:
            return self._xrpc_session(
                "createSession", None, {"identifier": identifier, "password": password}
            )
        except SourceError as exc:
            if exc.kind == "needs_credentials":
                raise SourceError(
                    "needs_credentials",
                    "Bluesky login failed: check identifier_env and password_env (app password)",
                ) from exc
            raise

    def _xrpc_session(self, method: str, bearer: str | None, body: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        resp = _http.request(
            self.ctx,
            "POST",
            f"{self.base_url}/xrpc/com.atproto.server.{method}",
            json=body,
            headers=headers,
            attempts=2,
        )
        try:
            data = resp.json()
            access, refresh = str(data["accessJwt"]), str(data["refreshJwt"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError("bad_payload", f"Bluesky {method} sent no tokens") from exc
        expires = jwt_expiry(access) or self.ctx.clock() + timedelta(minutes=5)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": data.get("did"),
            "expires_at": expires,
        }

    # -- HTTP -----------------------------------------------------------------------
    def _get(self, method: str, params: Any) -> Any:
        session = self._session()
        if session is None:
            try:
                return _http.get_json(
                    self.ctx, f"{self.options.public_url}/xrpc/{method}", params=params
                )
            except SourceError as exc:
                if exc.kind in ("needs_credentials", "blocked"):
                    raise SourceError(
                        "needs_credentials",
                        f"Bluesky's public API refused {method} (403); set identifier_env "
                        "and password_env to log in with an app password",
                    ) from exc
                raise
        url = f"{self.base_url}/xrpc/{method}"
        try:
            return _http.get_json(
                self.ctx,
                url,
                params=params,
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )
        except SourceError as exc:
            # 401, or 400 {"error": "ExpiredToken"}: the access token expired or was revoked
            if exc.kind != "needs_credentials" and "HTTP 400" not in exc.message:
                raise
            session = self._session(force_refresh=True)
            assert session is not None
            return _http.get_json(
                self.ctx,
                url,
                params=params,
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )

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

    # -- polling --------------------------------------------------------------------
    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        now = self.ctx.clock()
        old = (cursor or {}).get("since")
        watermark = _http.iso(old) if old else None
        lower = (
            watermark - timedelta(seconds=self.options.overlap_seconds)
            if watermark
            else now - self.ctx.source.backfill
        )
        newest = watermark
        complete = True
        for q in search_queries(query):
            seen, reached = yield from self._walk(q, lower, backfill=watermark is None)
            newest = max([*([seen] if seen else []), *([newest] if newest else [])], default=None)
            complete = complete and reached
        keep = newest if complete else watermark
        yield Page([], {"since": _iso(keep)} if keep else None, done=True)

    def _walk(
        self, q: str, lower: datetime, backfill: bool
    ) -> Generator[Page, None, tuple[datetime | None, bool]]:
        """One term newest first down to `lower`: returns (newest sortAt seen, bound reached)."""
        logged_in = self._credentials() is not None
        page_cursor: str | None = None
        until: datetime | None = None
        uris: set[str] = set()
        newest: datetime | None = None
        oldest: datetime | None = None
        for _page in range(self.options.max_pages):
            params: dict[str, Any] = {
                "q": q,
                "sort": "latest",
                "limit": self.options.limit,
                "since": _iso(lower),
            }
            if until is not None:  # a cursor belongs to the query it came from: keep its until
                params["until"] = _iso(until)
            if page_cursor:
                params["cursor"] = page_cursor
            via_cursor = page_cursor is not None
            try:
                data = self._get("app.bsky.feed.searchPosts", params)
            except SourceError as exc:
                if until is None or logged_in or exc.kind != "needs_credentials":
                    raise
                return newest, True  # the public host will not page back: as far as it lets us
            posts = data.get("posts") if isinstance(data, dict) else None
            stamps = [t for t in map(sort_at, posts or []) if t is not None]
            dids = [p["author"]["did"] for p in posts or [] if _has_did(p)]
            mentions, skipped = parse(data, self._followers(dids), self.ctx.source.key)
            # nothing older than a backfill's window; nothing this walk already yielded
            mentions = [
                m
                for m in mentions
                if m.external_id not in uris and (not backfill or m.created_at >= lower)
            ]
            yield Page(mentions, None, skipped)
            fresh = {m.external_id for m in mentions}
            uris.update(fresh)
            newest = max([*stamps, *([newest] if newest else [])], default=None)
            oldest = min([*stamps, *([oldest] if oldest else [])], default=None)
            if stamps and min(stamps) < lower:
                return newest, True
            more = data.get("cursor")
            if posts and logged_in and isinstance(more, str) and more:
                page_cursor = more
                continue
            page_cursor = None
            n = len(posts or [])
            if not more and (0 < n < self.options.limit or (n == 0 and not via_cursor)):
                return newest, True  # a short last page, or an empty answer to a plain query
            if oldest is None:
                return newest, True  # nothing dated to page back from
            if not fresh and not via_cursor and until is not None:
                return newest, False  # more than `limit` posts in one millisecond: stuck
            # Where no cursor leads on (the public host refuses them; a full or an empty page
            # came without one) ask `until`, exclusive: 1 ms above the oldest brings back its
            # millisecond's posts, which are deduplicated.
            until = oldest.replace(microsecond=oldest.microsecond // 1000 * 1000) + timedelta(
                milliseconds=1
            )
        return newest, False


def _has_did(post: Any) -> bool:
    return (
        isinstance(post, dict) and isinstance(post.get("author"), dict) and "did" in post["author"]
    )


__all__ = ["BlueskyListener", "jwt_expiry", "parse", "parse_post", "sort_at", "web_url"]
