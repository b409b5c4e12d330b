"""Hacker News stories and comments through Algolia's HN Search API.

Endpoint: `GET {base_url}/api/v1/search_by_date?query="TERM"&tags=(story,comment)
&numericFilters=created_at_i>L,created_at_i<=U&hitsPerPage=100&page=N`
(base_url default https://hn.algolia.com), newest first.
Auth: none. Limits: 10,000 requests per hour per IP; at most 1,000 hits per
query, so when a window holds more (fewer hits served than nbHits, or 1,000
served: nbHits may be an estimate), the walk narrows its upper bound to the
oldest hit seen and starts again at page 0.
Cursor: `{"watermark": U}`, epoch seconds: the newest `created_at_i` the
last complete walk saw (never after that walk began, never moving back, kept
when a walk sees nothing). Algolia indexes with a delay (algolia/hn-search#56:
about 20 hours once); a watermark set to "now" would skip for good whatever was
created but not yet indexed. A poll walks the window (watermark - overlap, now]; while
it walks, the cursor also holds `walk` (bounds, terms, term, page), so a crash
resumes the walk instead of skipping what it had not reached (a walk saved
with other terms is started again over the same window). The first poll
(no cursor) walks the source's `backfill` window.
Each term is searched quoted (Algolia's typo tolerance and prefix matching
would otherwise match "nodes" for "nodejs") and each hit is kept only when
its text really contains a term. Text is HTML with entities: converted to
plain text. There is no write API: replies go through a human.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners._http import get_json, html_to_text, iso, search_terms, term_search
from listeners.base import MALFORMED, Listener, Query, SourceError

# Algolia serves at most this many hits per query (paginationLimitedTo), whatever
# nbHits says: a window holding more is narrowed, never paged past the limit.
PAGINATION_LIMIT = 1000


class HackerNewsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: str = "(story,comment)"
    hits_per_page: int = Field(100, ge=1, le=1000)
    overlap_seconds: int = Field(300, ge=0)


def _mention(hit: dict[str, Any]) -> Mention | None:
    # The hot path of ingest (a thousand hits a page): one `get` per field, the
    # HTML parser only for text with markup or entities, Mention built by
    # `new_mention`, the hit itself kept as raw unless it has highlights to drop.
    # A hit that does not fit raises one of the errors `parse` counts.
    oid = str(hit["objectID"])
    if not oid:
        raise ValueError("empty objectID")
    get = hit.get
    title = get("title") or ""
    comment = get("comment_text")
    body = comment or get("story_text") or ""
    if title and ("<" in title or "&" in title):  # TypeError unless text or a container
        title = html_to_text(title)
    if body and ("<" in body or "&" in body):
        body = html_to_text(body)
    if title and body:
        text = "\n\n".join((title, body))  # TypeError unless both are text
    else:
        text = title or body
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}")
    if not text:
        return None  # deleted or empty item
    created_i = get("created_at_i")
    if created_i is not None:
        created = datetime.fromtimestamp(float(created_i), UTC)
    else:
        created = iso(get("created_at"))
    author = str(get("author") or "")
    parent = get("parent_id")
    story = get("story_id")
    if "_highlightResult" in hit:
        raw = hit.copy()
        del raw["_highlightResult"]
    else:
        raw = hit
    return new_mention(
        platform="hackernews",
        external_id=oid,
        native_id=oid,
        url="https://news.ycombinator.com/item?id=" + oid,
        author=author,
        text=text,
        created_at=created,
        in_reply_to=str(parent) if parent is not None else None,
        thread_id=str(story) if story is not None else oid,
        engagement=int(get("points") or 0) + int(get("num_comments") or 0),
        raw=raw,
    )


def parse(payload: Any) -> tuple[list[Mention], int]:
    """An Algolia search response -> (mentions, malformed hits skipped). Pure."""
    if not isinstance(payload, dict) or not isinstance(payload.get("hits"), list):
        raise SourceError("bad_payload", "Algolia response without a hits list")
    out: list[Mention] = []
    skipped = 0
    for hit in payload["hits"]:
        try:
            m = _mention(hit)
        except MALFORMED:
            skipped += 1
            continue
        if m is None:
            skipped += 1
        else:
            out.append(m)
    return out, skipped


class HackerNewsListener(Listener):
    platform = "hackernews"
    Options: ClassVar[type[BaseModel]] = HackerNewsOptions
    default_base_url = "https://hn.algolia.com"
    sees = (
        "Every public Hacker News story and comment whose text contains a term "
        "(Algolia search, no account needed); not deleted items, not other sites."
    )

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        opts: HackerNewsOptions = self.options  # type: ignore[assignment]
        terms = (
            [query.override]
            if query.override
            else [f'"{t}"' for t, _exact in search_terms(query.terms)]
        )
        if not terms:
            yield Page([], cursor, done=True)
            return
        cursor = cursor or {}
        watermark = cursor.get("watermark")
        walk = cursor.get("walk")
        now_i = int(self.ctx.clock().timestamp())
        if isinstance(walk, dict) and walk.get("terms", terms) != terms:
            # The terms changed while a walk was under way (config edited, worker
            # restarted): its `term` index would point into another list and skip
            # a term's window. Walk the same window again with the new terms.
            walk = {"lower": walk["lower"], "top": now_i, "upper": now_i, "term": 0, "page": 0}
            walk["terms"] = terms
        if not isinstance(walk, dict):
            if watermark is None:
                lower = int((self.ctx.clock() - self.ctx.source.backfill).timestamp())
            else:
                lower = int(watermark) - opts.overlap_seconds
            walk = {"lower": lower, "top": now_i, "upper": now_i, "term": 0, "page": 0}
            walk["terms"] = terms
        url = f"{self.base_url}/api/v1/search_by_date"
        while True:
            term = terms[min(walk["term"], len(terms) - 1)]
            payload = get_json(
                self.ctx,
                url,
                params={
                    "query": term,
                    "tags": opts.tags,
                    "numericFilters": f"created_at_i>{walk['lower']},created_at_i<={walk['upper']}",
                    "hitsPerPage": opts.hits_per_page,
                    "page": walk["page"],
                    "typoTolerance": "false",
                },
            )
            mentions, skipped = parse(payload)
            if not payload["hits"] and walk["page"] + 1 < _count(payload, "nbPages"):
                # An empty page inside the result set is a glitch: retry, never skip ahead.
                raise SourceError(
                    "bad_payload",
                    f"empty page {walk['page']} of {payload.get('nbPages')}",
                    transient=True,
                )
            if not query.override and (found := term_search(query.terms)) is not None:
                mentions = [m for m in mentions if found.search(m.text)]
            # The newest hit of the walk so far (before the post-filter: any hit shows
            # how far the index has got) becomes the watermark when the walk is done.
            times = [t for t in map(_epoch_i, payload["hits"]) if t is not None]
            if walk.get("newest") is not None:
                times.append(int(walk["newest"]))
            newest = min(max(times), walk["top"]) if times else None
            walk = self._advance(walk, payload, len(terms))
            walk["newest"] = newest
            if walk["term"] >= len(terms):
                done = {"watermark": _next_watermark(watermark, walk)}
                yield Page(mentions, done, skipped, done=True)
                return
            yield Page(mentions, {"watermark": watermark, "walk": dict(walk)}, skipped)

    @staticmethod
    def _advance(walk: dict[str, Any], payload: dict[str, Any], n_terms: int) -> dict[str, Any]:
        """The next request of the walk: next page, a narrower window, or the next term."""
        walk = dict(walk)
        raw_hits = payload.get("hits") or []
        hits = [h for h in raw_hits if isinstance(h, dict)]
        nb_pages = _count(payload, "nbPages")
        per = _count(payload, "hitsPerPage") or len(raw_hits) or 1
        nb_hits = _count(payload, "nbHits")
        # Hits served in this window so far. Cursors saved before `seen` existed
        # estimate it from the page number (every earlier page was full).
        seen = int(walk.get("seen", walk["page"] * per)) + len(raw_hits)
        # A page of nothing but garbled hits still says the walk goes on (`raw_hits`).
        if raw_hits and walk["page"] + 1 < nb_pages:
            walk.update(page=walk["page"] + 1, seen=seen)
            return walk
        # Capped: fewer hits served than the window holds. nbPages x hitsPerPage
        # is no measure of that (hitsPerPage=300 gives 4 pages, 1,200 > 1,000
        # served), and nbHits may be an estimate, so reaching the pagination
        # limit counts as capped too: restart below the oldest hit seen.
        if raw_hits and (nb_hits > seen or seen >= PAGINATION_LIMIT):
            times = [t for t in map(_epoch_i, hits) if t is not None]
            oldest = min(times) if times else walk["upper"]
            if oldest < walk["upper"]:
                walk.update(upper=oldest, page=0, seen=0)
                return walk
        walk.update(term=walk["term"] + 1, page=0, upper=walk["top"], seen=0)
        return walk


def _next_watermark(old: Any, walk: dict[str, Any]) -> int:
    """The watermark after a complete walk: the newest hit it saw, never moving back.

    A walk that saw nothing keeps the old watermark (the first poll's: the
    start of its window), so an index that stopped updating loses nothing.
    """
    newest = walk.get("newest")
    if old is None:
        return int(newest) if newest is not None else int(walk["lower"])
    return max(int(old), int(newest)) if newest is not None else int(old)


def _count(payload: dict[str, Any], key: str) -> int:
    """An envelope count (nbPages, nbHits...) as an int; a garbled one is a bad payload."""
    try:
        return int(payload.get(key) or 0)
    except MALFORMED as exc:
        raise SourceError("bad_payload", f"Algolia {key} is {payload.get(key)!r}") from exc


def _epoch_i(hit: dict[str, Any]) -> int | None:
    """A hit's created_at_i, or None when it is missing or garbled (that hit is skipped by
    `parse`; it must not stop the walk)."""
    try:
        return int(float(hit["created_at_i"]))
    except MALFORMED:
        return None
