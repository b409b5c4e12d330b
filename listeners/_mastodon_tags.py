"""Mastodon hashtag timelines: which to follow, the forward walk, the first poll's backfill.

`TagWalk` holds MastodonListener's queries (one per hashtag, from the options
or the single-word terms, plus the search ones) and its hashtag timeline
paging (a mixin: the listener supplies `ctx`, `options`, `base_url` and the
HTTP and parse methods stubbed below): forward with `min_id` following
`Link rel="prev"` (starting below the cursor for late-federated posts),
backwards with `max_id` through the backfill window, and the instance check
that says plainly when hashtag feeds need a login. The cursor's semantics
are described in listeners/mastodon.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from earful.models import Page
from listeners import _http
from listeners._mastodon_common import ListenerHooks, _json, id_key, newest_id, rescan_from
from listeners.base import Context, Query, SourceError

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.mastodon import MastodonOptions

_TAG = re.compile(r"^\w+$")
NEEDS_LOGIN = "requires login for hashtag feeds"


class TagWalk(ListenerHooks):
    """MastodonListener's queries and hashtag timeline walks (mixed into the listener)."""

    ctx: Context
    options: MastodonOptions
    base_url: str

    def queries(self, entities: Mapping[str, list[str]]) -> list[Query]:
        """One query per hashtag, plus one search query per entity when a token is set."""
        first = next(iter(entities))
        tags = list(self.options.hashtags)
        if not tags:
            for terms in entities.values():
                for t, _exact in _http.search_terms(terms):
                    tag = t.replace(" ", "").lstrip("#@")  # "acme cloud" -> #acmecloud
                    if _TAG.match(tag) and tag.lower() not in {x.lower() for x in tags}:
                        tags.append(tag)
        out = [Query(f"tag:{t.lower()}", _entity_for(t, entities, first), (t,)) for t in tags]
        if self.ctx.secret("token_env"):
            if self.ctx.source.query:
                out.append(Query("search:custom", first, (), self.ctx.source.query))
            else:
                out += [Query(f"search:{k}", k, tuple(v)) for k, v in entities.items()]
        return out

    def _poll_tag(self, tag: str, cursor: dict[str, Any] | None) -> Iterator[Page]:
        path = f"/api/v1/timelines/tag/{quote(tag)}"
        min_id = (cursor or {}).get("min_id")
        try:
            if min_id:
                yield from self._forward(path, str(min_id))
            else:
                yield from self._backfill(path, tag)
        except SourceError as exc:
            if exc.kind == "needs_credentials" and not self._headers():
                raise SourceError("needs_credentials", self._login_message(tag)) from exc
            raise

    def _rescan_from(self, cursor: str) -> str | None:
        overlap = timedelta(seconds=self.options.overlap_seconds)
        return rescan_from(cursor, overlap, self.ctx.clock())

    def _forward(self, path: str, cursor: str) -> Iterator[Page]:
        limit = self.options.limit
        min_id = self._rescan_from(cursor) or cursor
        newest = cursor  # what is saved: never below the stored cursor
        # pages spent below the cursor are capped so a busy tag still moves forward
        rescan_pages = self.options.max_pages // 2
        for n in range(self.options.max_pages):
            if n >= rescan_pages and id_key(min_id) < id_key(cursor):
                min_id = cursor
            resp = self._get(path, {"limit": limit, "min_id": min_id})
            payload = _json(resp)
            if not isinstance(payload, list):
                raise SourceError("bad_payload", "Mastodon timeline is not a list")
            mentions, skipped = self._parse(payload)
            ids = [str(s["id"]) for s in payload if isinstance(s, dict) and s.get("id")]
            new_min = _link_param(resp, "prev", "min_id") or newest_id(ids)
            if not payload or new_min is None or id_key(new_min) <= id_key(min_id):
                yield Page(mentions, None, skipped, done=True)
                return
            min_id = new_min
            moved = id_key(new_min) > id_key(newest)
            newest = new_min if moved else newest
            cur = {"min_id": newest} if moved else None
            yield Page(mentions, cur, skipped, done=len(payload) < limit)
            if len(payload) < limit:
                return

    def _backfill(self, path: str, tag: str) -> Iterator[Page]:
        cutoff = self.ctx.clock() - self.ctx.source.backfill
        newest: str | None = None
        params: dict[str, Any] = {"limit": self.options.limit}
        for _ in range(self.options.max_pages):
            resp = self._get(path, params)
            payload = _json(resp)
            if not isinstance(payload, list):
                raise SourceError("bad_payload", "Mastodon timeline is not a list")
            if not payload and newest is None:
                self._check_hashtag_access(tag)
            mentions, skipped = self._parse(payload)
            ids = [str(s["id"]) for s in payload if isinstance(s, dict) and s.get("id")]
            newest = newest_id(ids, newest)
            yield Page([m for m in mentions if m.created_at >= cutoff], None, skipped)
            max_id = _link_param(resp, "next", "max_id") or (min(ids, key=id_key) if ids else None)
            oldest = min((m.created_at for m in mentions), default=None)
            if not payload or max_id is None or (oldest is not None and oldest < cutoff):
                break
            params = {"limit": self.options.limit, "max_id": max_id}
        yield Page([], {"min_id": newest} if newest else None, done=True)

    def _check_hashtag_access(self, tag: str) -> None:
        """An empty first page: say so plainly when the instance restricts hashtag feeds."""
        if self._headers():
            return
        key = f"mastodon:instance:{self.base_url}"
        if key not in self.ctx.state:
            try:
                resp = self._get("/api/v2/instance", {})
                self.ctx.state[key] = _json(resp)
            except SourceError:
                self.ctx.state[key] = {}
        feeds = _dig(self.ctx.state[key], "configuration", "timelines_access", "hashtag_feeds")
        if isinstance(feeds, dict) and {"authenticated", "disabled"} & set(feeds.values()):
            raise SourceError("needs_credentials", self._login_message(tag))

    def _login_message(self, tag: str) -> str:
        host = urlsplit(self.base_url).hostname or self.base_url
        return f"{host} {NEEDS_LOGIN} (#{tag}); set token_env to a user token"


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _link_param(resp: httpx.Response, rel: str, name: str) -> str | None:
    """A query parameter of the `Link` header's `rel` URL (Mastodon paging)."""
    link = resp.links.get(rel, {}).get("url")
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get(name)
    return values[0] if values else None


def _entity_for(tag: str, entities: Mapping[str, list[str]], default: str) -> str:
    for name, terms in entities.items():
        if any(t.lower().replace(" ", "") == tag.lower() for t, _ in _http.search_terms(terms)):
            return name
    return default
