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

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners._http import get_json, iso, request, search_terms, text_matches
from listeners.base import MALFORMED, Listener, Query, SourceError, StoredPost, json_body

TYPES = ("Posts", "Comments")
# Lemmy's JSON `error` for an item an anonymous reader cannot see (deleted, removed, never was)
GONE_ERRORS = ("couldnt_find_post", "couldnt_find_comment", "not_found", "deleted")


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


def _views(payload: dict[str, Any]) -> tuple[dict[str, list[Any]], int]:
    """A search response -> ({"posts": [...], "comments": [...]}, lists that were not lists).

    Two shapes: separate `posts`/`comments` lists (0.19, and Lemmy 1.0 per the
    reference), or one `search` list of views tagged `type_` "post"/"comment"
    (lemmy-js-client's SearchCombinedView for 1.0); communities and users are ignored.
    """
    views: dict[str, list[Any]] = {"posts": [], "comments": []}
    bad = 0
    for key in views:
        items = payload.get(key) or []
        if isinstance(items, list):
            views[key].extend(items)
        else:
            bad += 1
    combined = payload.get("search") or []
    if not isinstance(combined, list):
        return views, bad + 1
    for view in combined:
        tag = str(view.get("type_") or "").lower() if isinstance(view, dict) else ""
        if tag in ("post", "comment"):
            views[tag + "s"].append(view)
        elif tag not in ("community", "person", "multi_community"):
            bad += 1  # untagged or unknown: counted as malformed, never guessed
    return views, bad


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


def gone_ids(payload: Any) -> tuple[str, ...]:
    """The `ap_id`s of deleted or removed posts and comments in a search response
    (a copy stored before the deletion is purged with the page)."""
    out = []
    views, _ = _views(payload) if isinstance(payload, dict) else ({}, 0)
    for key, field in (("posts", "post"), ("comments", "comment")):
        for view in views.get(key, ()):
            item = view.get(field) if isinstance(view, dict) else None
            if isinstance(item, dict) and (item.get("deleted") or item.get("removed")):
                if item.get("ap_id"):
                    out.append(str(item["ap_id"]))
    return tuple(out)


def _not_after(newest: str | None, started: str | None) -> str | None:
    """The watermark to save: the newest `published` seen, never later than the walk's start.

    `published` comes from the origin instance's clock: one post dated in the
    future (a skewed or hostile server) would otherwise lift the watermark past
    every real post still to come, and each later walk would stop at page 1.
    """
    if newest is None or (started is not None and iso(newest) > iso(started)):
        return started
    return newest


class LemmyListener(Listener):
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

    def api_version(self) -> str:
        opts: LemmyOptions = self.options  # type: ignore[assignment]
        if opts.api != "auto":
            return opts.api
        if "api" not in self.ctx.state:
            self.ctx.state["api"] = self._detect()
        return str(self.ctx.state["api"])

    def _detect(self) -> str:
        try:
            site = get_json(self.ctx, f"{self.base_url}/api/v3/site")
        except SourceError as exc:
            if exc.kind not in ("error", "bad_payload"):
                raise
            request(self.ctx, "GET", f"{self.base_url}/api/v4/site")  # raises if neither
            return "v4"
        version = str((site or {}).get("version") or "0") if isinstance(site, dict) else "0"
        try:
            major = int(version.lstrip("v").split(".")[0])
        except ValueError:
            major = 0
        return "v4" if major >= 1 else "v3"

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """Items this instance flags deleted/removed or no longer finds, by their local id."""
        out = []
        for p in posts:
            if not (p.native_id and p.native_id.isdigit()):
                continue
            kind = "post" if p.thread_id == p.external_id else "comment"
            url = f"{self.base_url}/api/{self.api_version()}/{kind}"
            resp = self.probe(url, params={"id": p.native_id})
            body = json_body(resp)
            view = body.get(f"{kind}_view") if isinstance(body, dict) else None
            item = view.get(kind) if isinstance(view, dict) else None
            if resp.status_code == 200 and isinstance(item, dict):
                if str(item.get("ap_id")) != p.external_id:  # another item: wrong instance?
                    raise SourceError("bad_payload", f"recheck: {kind} {p.native_id} moved")
                if item.get("deleted") or item.get("removed"):
                    out.append(p.external_id)
                continue
            error = body.get("error") if isinstance(body, dict) else None
            if resp.status_code in (400, 404) and error in GONE_ERRORS:
                out.append(p.external_id)
                continue
            raise SourceError("bad_payload", f"recheck: HTTP {resp.status_code} from {url}")
        return tuple(out)

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        opts: LemmyOptions = self.options  # type: ignore[assignment]
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
        v4 = self.api_version() == "v4"
        lower_dt = iso(walk["lower"])
        while True:
            kind, term = steps[min(walk["step"], len(steps) - 1)]
            params: dict[str, Any] = {"type_": kind, "sort": "New", "listing_type": "All"}
            params["limit"] = opts.limit
            if v4:
                params["search_term"] = term
                if walk.get("page_cursor"):
                    params["page_cursor"] = walk["page_cursor"]
                url = f"{self.base_url}/api/v4/search"
            else:
                params.update(q=term, page=walk["page"])
                url = f"{self.base_url}/api/v3/search"
            try:
                payload = get_json(self.ctx, url, params=params)
            except SourceError as exc:
                if exc.kind in ("error", "bad_payload"):
                    # Maybe the instance was upgraded under us (v3 gone, or v4 not yet
                    # there): detect the version again on the next poll, not at restart.
                    self.ctx.state.pop("api", None)
                raise
            mentions, skipped = parse(payload, self.base_url)
            n_items = len(_views(payload)[0][kind.lower()])
            if mentions:
                newest = max(m.created_at for m in mentions)
                if walk["newest"] is None or newest > iso(walk["newest"]):
                    walk["newest"] = newest.isoformat()
            reached = any(m.created_at <= lower_dt for m in mentions)
            next_cursor = payload.get("next_page") if v4 else None
            if not query.override:
                mentions = [m for m in mentions if text_matches(m.text, query.terms)]
            more = (
                n_items > 0
                and not reached
                and (watermark is not None or walk["page"] < opts.max_pages)
                and (next_cursor if v4 else n_items >= opts.limit)
            )
            walk = dict(walk)
            if more:
                walk.update(page=walk["page"] + 1, page_cursor=next_cursor)
            else:
                walk.update(step=walk["step"] + 1, page=1, page_cursor=None)
            if walk["step"] >= len(steps):
                done = {"watermark": _not_after(walk["newest"], walk.get("started"))}
                yield Page(mentions, done, skipped, done=True, gone=gone_ids(payload))
                return
            cursor_now = {"watermark": watermark, "walk": walk}
            yield Page(mentions, cursor_now, skipped, gone=gone_ids(payload))
