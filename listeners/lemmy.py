"""Lemmy posts and comments through an instance's search API (one instance per source).

Endpoint (Lemmy 0.19, API v3): `GET {base_url}/api/v3/search?q=TERM&type_=Posts|Comments
&sort=New&listing_type=All&page=N&limit=50`. Lemmy 1.0 (API v4):
`GET {base_url}/api/v4/search?search_term=TERM&type_=...&sort=New&page_cursor=C&limit=50`.
The version is detected from `/api/v3/site` (`version`) once per process,
and again after a search fails (an instance upgraded while we run); a 1.x
server, or one where v3 is gone, is searched through v4.
Auth: none for public content. Limits: per instance and IP (default 60
searches per 600 s), 429 when exceeded; one poll costs one search per page
per (term, type).
Lemmy 1.0 names the timestamp `published_at`, keeps score and comment counts
in the item itself, and may answer with one `search` list of views tagged
`type_` ("post", "comment", ...) instead of `posts`/`comments`: all are read.
Cursor: `{"watermark": ISO}` = the newest `published` seen by the last
complete walk, never later than the time that walk started (a post dated in
the future by a skewed origin server must not hide what comes after it).
A poll walks pages newest first and stops at the page that reaches
watermark - overlap (federated items can arrive a little late; the first poll
walks at most `max_pages` per term and type); while walking, `walk` (terms,
step, page, newest seen) is saved too, so a crash resumes the walk (a walk
saved with other terms starts its steps again over the same window).
Numeric ids are instance-local: the key is `ap_id`, so the same post seen
through several instances (several sources) is stored once. Deleted and
removed items are never stored, and a page lists their `ap_id`s in
`Page.gone` so a copy stored before the deletion is purged (when a later
walk reads the item again with its `deleted`/`removed` flag).

Recheck (`gone`, earful/recheck.py): `GET {base_url}/api/{v3|v4}/post?id=N` or
`/comment?id=N` with the item's numeric id on the instance the mention was
read from (ids are instance-local; a post is the mention whose thread is
itself), one request per item. The item's `deleted`/`removed` flag, or
Lemmy's JSON error `couldnt_find_post`/`couldnt_find_comment`/`not_found`/
`deleted` (anonymous readers no longer see a deleted or removed item), means
gone; an item with another `ap_id`, an HTML page or any other error ends the
round with nothing purged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners._http import iso, search_terms
from listeners._lemmy_common import _views, gone_ids
from listeners._lemmy_recheck import ItemRecheck
from listeners._lemmy_walk import SearchWalk
from listeners.base import MALFORMED, Listener, Query, SourceError

TYPES = ("Posts", "Comments")


class LemmyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api: Literal["auto", "v3", "v4"] = "auto"
    limit: int = Field(50, ge=1, le=50)
    overlap_seconds: int = Field(600, ge=0)
    max_pages: int = Field(20, ge=1)  # per (term, type) on the first poll: bounds the backfill


def _host(actor_id: str) -> str:
    try:
        return httpx.URL(actor_id).host
    except Exception:  # noqa: BLE001
        return ""


def _author(creator: dict[str, Any]) -> str:
    name = str(creator.get("name") or "")
    host = _host(str(creator.get("actor_id") or creator.get("ap_id") or ""))
    return f"{name}@{host}" if host else name


def _published(item: dict[str, Any]) -> Any:
    # Lemmy 1.0 renamed `published` to `published_at` (and `updated` to `updated_at`).
    return item["published_at"] if "published_at" in item else item["published"]


def _counts(view: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    # 0.19 has a separate `counts` object; Lemmy 1.0 moved score/comments into the item.
    counts = view.get("counts")
    return counts if isinstance(counts, dict) else item


def _post(view: dict[str, Any], base: str) -> Mention | None:
    post = view["post"]
    if post.get("deleted") or post.get("removed"):
        return None
    text = "\n\n".join(p for p in (post.get("name") or "", post.get("body") or "") if p)
    counts = _counts(view, post)
    return new_mention(
        platform="lemmy",
        external_id=str(post["ap_id"]),
        native_id=str(post["id"]),
        url=str(post["ap_id"]),
        author=_author(view.get("creator") or {}),
        text=text,
        created_at=iso(_published(post)),
        thread_id=str(post["ap_id"]),
        engagement=int(counts.get("score") or 0) + int(counts.get("comments") or 0),
        raw=view,
    )


def _comment(view: dict[str, Any], base: str) -> Mention | None:
    c = view["comment"]
    if c.get("deleted") or c.get("removed"):
        return None
    path = str(c.get("path") or "").split(".")
    parent = path[-2] if len(path) >= 3 else None  # "0.<parent>.<id>"
    post = view.get("post") or {}
    counts = _counts(view, c)
    return new_mention(
        platform="lemmy",
        external_id=str(c["ap_id"]),
        native_id=str(c["id"]),
        url=str(c["ap_id"]),
        author=_author(view.get("creator") or {}),
        text=str(c.get("content") or ""),
        created_at=iso(_published(c)),
        in_reply_to=f"{base}/comment/{parent}" if parent else post.get("ap_id"),
        thread_id=post.get("ap_id") or (f"{base}/post/{c['post_id']}" if "post_id" in c else None),
        engagement=int(counts.get("score") or 0),
        raw=view,
    )


def parse(payload: Any, base: str = "") -> tuple[list[Mention], int]:
    """A search response (v3 or v4) -> (mentions, malformed items skipped). Pure."""
    if not isinstance(payload, dict):
        raise SourceError("bad_payload", "Lemmy search response is not a JSON object")
    out: list[Mention] = []
    seen: set[str] = set()
    views, skipped = _views(payload)
    for key, build in (("posts", _post), ("comments", _comment)):
        for view in views[key]:
            try:
                m = build(view, base)
            except MALFORMED:  # one bad item (even an infinite score) never sinks the page
                skipped += 1
                continue
            if m is not None and m.external_id not in seen:
                seen.add(m.external_id)
                out.append(m)
    return out, skipped


class LemmyListener(SearchWalk, ItemRecheck, Listener):
    platform = "lemmy"
    Options: ClassVar[type[BaseModel]] = LemmyOptions
    default_base_url = "https://lemmy.world"
    sees = (
        "Public Lemmy posts and comments containing a term, as federated to this "
        "instance (add one source per instance for wider coverage); not deleted or removed items."
    )

    deletions = (
        "A post or comment deleted or removed since it was stored is flagged, "
        "or no longer found, when looked up by id."
    )
    recheck_limit = 50  # one request per item
    options: LemmyOptions

    # SearchWalk parses through this method: listeners/_lemmy_walk.py cannot import parse()
    def _parse(self, payload: Any) -> tuple[list[Mention], int]:
        return parse(payload, self.base_url)

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        opts = self.options
        terms = [query.override] if query.override else [t for t, _ in search_terms(query.terms)]
        if not terms:
            yield Page([], cursor, done=True)
            return
        steps = [(kind, term) for term in terms for kind in TYPES]
        cursor = cursor or {}
        watermark = cursor.get("watermark")
        walk = cursor.get("walk")
        if isinstance(walk, dict) and walk.get("terms", terms) != terms:
            # The terms changed while a walk was under way: its `step` would index
            # other (type, term) steps and skip one. Same window, steps from the start.
            walk = {**walk, "step": 0, "page": 1, "page_cursor": None, "terms": terms}
        if not isinstance(walk, dict):
            if watermark is None:
                lower = self.ctx.clock() - self.ctx.source.backfill
            else:
                lower = iso(watermark) - timedelta(seconds=opts.overlap_seconds)
            walk = {"lower": lower.isoformat(), "step": 0, "page": 1, "page_cursor": None}
            walk["newest"] = watermark
            walk["started"] = self.ctx.clock().isoformat()
            walk["terms"] = terms
        yield from self._walk(query, steps, walk, watermark)

    # version detection and the walk: SearchWalk (listeners/_lemmy_walk.py);
    # recheck: ItemRecheck (listeners/_lemmy_recheck.py)


__all__ = ["LemmyListener", "gone_ids", "parse"]
