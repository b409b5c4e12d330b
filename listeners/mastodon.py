"""Mastodon: public hashtag timelines on one instance, plus full-text search with a token.

Endpoints (one `[[sources]]` entry per instance, `base_url` = the instance):
- `GET /api/v1/timelines/tag/{tag}?limit=40&min_id=X`, one query per hashtag
  (`hashtags = [...]`, default: the single-word brand and competitor terms).
- `GET /api/v2/search?q=TERM&type=statuses&limit=40&min_id=X[&max_id=Y][&offset=N]`
  when `token_env` names a user token (`read:search`); one walk per term, phrases quoted.

Auth in 2026: hashtag timelines are public on most instances, but since 4.5
an admin may set hashtag feeds to `authenticated` or `disabled`
(`/api/v2/instance` -> configuration.timelines_access.hashtag_feeds): the
feed then answers 401 or an empty list, which health reports as "requires
login for hashtag feeds". Full-text search needs a token, needs Elasticsearch
on the instance and only finds posts from accounts that opted in to search.

Limits: 300 requests / 5 min per account and per IP; on 429 the reset header
`X-RateLimit-Reset` is an ISO timestamp.

Cursor: `{"min_id": id}` per (instance, hashtag): the newest status id stored.
Polls walk forward with `min_id` following `Link rel="prev"`, one page per
transaction, so there is no gap when more than 40 posts arrived. The first
poll walks backwards (`max_id`) through the backfill window and saves the
cursor only once the walk is complete. Search has its own cursor (below).
Recheck (`gone`, earful/recheck.py): `GET /api/v1/statuses/{native_id}` on
the instance the mention was read from (native ids are that instance's), one
request per post, at most `recheck_limit` a round. 404 with Mastodon's own
JSON error (`{"error": "Record not found"}`) means deleted, or hidden from this
instance by moderation (a suspended account, a blocked domain): gone either
way. 200 with the same `uri` means still there; anything else (5xx, 429, an
HTML 404 from a proxy, a 200 about another status) ends the round with
nothing purged.

IDs are opaque strings, ordered by length then lexically; a status is deduplicated across instances
by its federation `uri` (external_id), while native_id is this instance's id
(the one a reply needs).

Late federation: Mastodon ids are snowflakes, `(ms since epoch << 16) | seq`,
and a remote status gets the id of its `created_at` when this instance first
hears of it, so a post federated late lands *below* the cursor. When the
cursor is such a snowflake, a forward poll (timeline and search) therefore
starts at `id_at(time_of(cursor) - overlap_seconds)` (default 15 minutes)
rather than at the cursor; the store drops what it already holds by `uri`
(counted as "already stored", not as new) and the saved cursor never moves
back. Cost: the posts of the `overlap_seconds` below the cursor are read
again: no extra request while they fit in one page with the new posts, else
about one extra page per `limit` (40) of them, e.g. one on a tag with 40-80
posts per 15 minutes. The re-read gets at most `max_pages // 2` pages, so a
tag busier than that still moves forward every poll, but then only the older
part of the window is re-read (none when `max_pages` is 1). Known limit: a post federated later
than `overlap_seconds` after it was written (or beyond that re-read budget) is
still missed. Ids that are not snowflakes (Pleroma/Akkoma flake ids,
GoToSocial ULIDs, anything non-numeric or implausible) walk from the cursor
itself, as before.

Full-text search follows how Mastodon 4.2-4.5 runs it: results newest first,
`min_id`/`max_id` turned into time bounds in whole seconds that leave their own
seconds out, filtered hits dropped after `limit` (details and sources in
listeners/_mastodon_search.py, with the walk).

So the search walks *down* each window, one step per term: the first request
of a step has no `max_id`; after a full newest-first page the next asks
`max_id` = two seconds above the page's lowest id's second (that second and
the skew stay in: a few posts come twice and the store drops them by `uri`);
when that does not lower `max_id` (a page within the top seconds), after a
page the server shortened, or when results are not newest first, the same
window is paged with `offset`. The step ends with an empty page (or, on the
first poll, a page older than `backfill`). Cursor, per term:
`{"terms": {term: {"min_id": W}}}` between steps, and while a step is cut
short by `max_pages` requests, `{"min_id": W, "gap_max_id": X, "offset": n,
"newest": N, "reread": r}`: the next poll continues the gap (min_id from W,
max_id X) and only a finished step moves `min_id` to N. Every page carries
the cursor that covers it, so the poller stores it with that page's posts
and a failed poll resumes at the last stored page. `min_id` is sent as the
second before `rescan_from(W)` (the late-federation overlap above, whose
re-read costs at most `max_pages // 2` pages a step). An old cursor
`{"min_id": X}` is each term's W. Cost: a quiet term takes two requests a
poll (the closing empty page is the second); a step spans polls when it
needs more than `max_pages` requests (about `max_pages * limit` results
since the overlap below W), and falls behind for good only when more than
that arrive between polls. Limits: an entirely filtered page (`limit`
hidden posts in a row) ends the step early; with non-snowflake ids `max_id`
is the lowest id itself; when results are not newest first (older servers)
offset pages of a moving ranking can skip a post.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from selectolax.lexbor import LexborHTMLParser

from earful.models import Mention, Page, as_utc, new_mention
from listeners import _http
from listeners._mastodon_common import id_at, id_key, newest_id, rescan_from, time_of
from listeners._mastodon_recheck import StatusRecheck
from listeners._mastodon_search import (
    SearchWalk,
    is_open,
    search_max_id,
    search_min_id,
    search_states,
)
from listeners._mastodon_tags import _TAG, NEEDS_LOGIN, TagWalk
from listeners.base import Listener, Query, SourceError, parse_each

PLATFORM = "mastodon"
_BLANKS = re.compile(r"[ \t]*\n(?:[ \t]*\n)+[ \t]*")


class MastodonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashtags: list[str] = []
    token_env: str | None = None
    limit: int = Field(40, ge=1, le=40)
    max_pages: int = Field(10, ge=1, le=100)
    # how late a post may federate and still be seen (re-read below the cursor)
    overlap_seconds: int = Field(900, ge=0)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        out = []
        for tag in v:
            t = tag.strip().lstrip("#")
            if not _TAG.match(t):
                raise ValueError(f"{tag!r} is not a hashtag (letters, digits, underscore)")
            out.append(t)
        return out


def html_to_text(html: str | None) -> str:
    """Mastodon's sanitised HTML -> plain text: hidden URL parts dropped, paragraphs as newlines."""
    if not html:
        return ""
    tree = LexborHTMLParser(html)
    for node in tree.css("span.invisible, script, style"):
        node.decompose()
    for node in tree.css("span.ellipsis"):  # Mastodon shortens long links: show that it did
        node.insert_after("…")
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css("p"):
        node.insert_after("\n\n")
    body = tree.body
    text = body.text(deep=True, separator="") if body is not None else ""
    return _BLANKS.sub("\n\n", text).strip()


def _ts(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def parse_status(status: Mapping[str, Any], instance: str, source: str | None = None) -> Mention:
    """One Status (a boost is unwrapped to the boosted post) -> Mention."""
    inner = status.get("reblog") or status
    account = inner["account"]
    acct = str(account["acct"])
    if "@" not in acct:  # a local account: qualify it so authors agree across instances
        acct = f"{acct}@{urlsplit(instance).hostname or instance}"
    text = html_to_text(inner.get("content"))
    if inner.get("spoiler_text"):
        text = f"{inner['spoiler_text']}\n\n{text}"
    followers = account.get("followers_count")
    return new_mention(
        platform=PLATFORM,
        external_id=str(inner["uri"]),
        url=str(inner.get("url") or inner["uri"]),
        author=acct,
        text=text,
        created_at=_ts(inner["created_at"]),
        author_followers=int(followers) if isinstance(followers, int) else None,
        lang=inner.get("language") or None,
        in_reply_to=inner.get("in_reply_to_id"),
        native_id=str(inner["id"]),
        engagement=sum(
            int(inner.get(k) or 0)
            for k in ("favourites_count", "reblogs_count", "replies_count", "quotes_count")
        ),
        raw=dict(status),
        source=source,
    )


def parse(payload: Any, instance: str, source: str | None = None) -> tuple[list[Mention], int]:
    """A timeline (list) or a v2 search result (dict) -> (mentions, malformed items skipped)."""
    items = payload.get("statuses") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise SourceError("bad_payload", "Mastodon sent neither a status list nor search results")
    return parse_each(items, lambda item: parse_status(item, instance, source))


class MastodonListener(TagWalk, SearchWalk, StatusRecheck, Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = MastodonOptions
    default_base_url = "https://mastodon.social"
    sees = (
        "Hashtag timelines see public posts with that hashtag federated to this instance; "
        "full-text search (with a token) sees only posts from accounts that opted in to search."
    )
    deletions = "A status deleted since it was stored answers 404 on the instance it was read from."
    recheck_limit = 40  # one request per post: 300 requests / 5 min per IP
    options: MastodonOptions

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        if query.key.startswith("tag:"):
            yield from self._poll_tag(query.terms[0], cursor)
        else:
            yield from self._poll_search(query, cursor)

    # -- HTTP -----------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        token = self.ctx.secret("token_env")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return _http.request(
            self.ctx, "GET", self.base_url + path, params=params, headers=self._headers()
        )

    def _parse(self, payload: Any) -> tuple[list[Mention], int]:
        return parse(payload, self.base_url, self.ctx.source.key)

    # queries and hashtag timelines: TagWalk (listeners/_mastodon_tags.py)
    # full-text search: SearchWalk (listeners/_mastodon_search.py)
    # recheck: StatusRecheck (listeners/_mastodon_recheck.py)


__all__ = [
    "NEEDS_LOGIN",
    "MastodonListener",
    "html_to_text",
    "id_at",
    "id_key",
    "is_open",
    "newest_id",
    "parse",
    "parse_status",
    "rescan_from",
    "search_max_id",
    "search_min_id",
    "search_states",
    "time_of",
]
