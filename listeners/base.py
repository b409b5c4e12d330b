"""The listener protocol: thin I/O around a pure `parse`.

A listener receives an `httpx.Client` (it never builds one), the source's
config and its secrets, and for one `Query` yields `Page`s: mentions plus the
cursor to save after storing them. The poller stores a page's mentions and its
cursor in one transaction (consecutive pages of a walk may share it, with the
newest cursor), so a crash between pages loses nothing and doubles nothing.

Failures are raised as `SourceError` with a `kind` the health table and the
dashboard understand.

A post deleted after we stored it is rarely read again by a search walk, so
a listener may also answer `gone(posts)`: which of these stored posts (the
ones still waiting in the reply queue, see earful/recheck.py) are definitely
gone at the source. `deletions` says in one sentence what the platform can
tell; `rechecks()` whether this source can ask (Reddit needs OAuth, X a token).
Only a definitive per-item answer counts: anything ambiguous raises, and the
round purges nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from earful.models import Mention, Page, utcnow

ErrorKind = Literal[
    "unreachable", "rate_limited", "needs_credentials", "blocked", "bad_payload", "error"
]

ERROR_WORDS: dict[str, str] = {
    "unreachable": "cannot reach the server",
    "rate_limited": "rate-limited by the platform",
    "needs_credentials": "needs credentials",
    "blocked": "blocked by the platform",
    "bad_payload": "the server sent something we could not read",
    "error": "unexpected error",
}


class SourceError(Exception):
    """A source failed in a way worth reporting in health.

    `retry_at` (UTC) says when trying again makes sense (rate limits, blocks).
    `transient` errors are retried with backoff within one `--once` run.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retry_at: datetime | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retry_at = retry_at
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Query:
    """What to look for: one entity (the brand or a competitor) and its terms.

    `terms` are as configured (`acme`, `"acme cloud"`); each listener turns
    them into its platform's syntax. `override` is the source's `query` key.
    """

    key: str
    entity: str
    terms: tuple[str, ...]
    override: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A stored mention as a recheck sees it: its keys, not its content."""

    external_id: str
    native_id: str | None = None
    thread_id: str | None = None


class NoOptions(BaseModel):
    """Listeners without platform-specific keys reject unknown ones."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Context:
    """What a listener gets: its source, an HTTP client, secrets, a clock and a sleeper."""

    source: Any  # earful.config.SourceConfig (kept loose to avoid an import cycle)
    client: httpx.Client
    secrets: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    state: dict[str, Any] = field(default_factory=dict)  # per-process scratch (sessions, etags)

    def secret(self, option: str) -> str | None:
        """The value of the secret whose variable name is in the source option `option`."""
        var = self.source.options.get(option)
        return self.secrets.get(var) if var else None


class Listener:
    """Base class. Subclasses set `platform`, `Options`, `default_base_url`, `sees`."""

    platform: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    default_base_url: ClassVar[str] = ""
    sees: ClassVar[str] = ""  # one honest sentence: what this source can and cannot see
    needs_network: ClassVar[bool] = True
    # one honest sentence: can a recheck tell that a stored post was deleted at the source?
    deletions: ClassVar[str] = (
        "A stored post is never checked again: this source cannot look a post up by id."
    )
    recheck_limit: ClassVar[int] = 100  # posts asked about per recheck round at most

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.options = self.Options.model_validate(ctx.source.options)

    @property
    def base_url(self) -> str:
        return (self.ctx.source.base_url or self.default_base_url).rstrip("/")

    def queries(self, entities: Mapping[str, list[str]]) -> list[Query]:
        """One query per entity; a source-level `query` override replaces them all."""
        if self.ctx.source.query:
            return [Query("custom", next(iter(entities)), (), self.ctx.source.query)]
        return [Query(name, name, tuple(terms)) for name, terms in entities.items()]

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        """Yield pages for `query`, newest information first or oldest first as the API allows."""
        raise NotImplementedError

    def rechecks(self) -> bool:
        """Can this source tell which stored posts are gone (`gone` does something)?"""
        return type(self).gone is not Listener.gone

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """The external ids among `posts` that are definitely deleted or removed at the source.

        Raises `SourceError` when any answer is ambiguous (transport error, 5xx,
        429, an HTML page, an unexpected shape): the caller then purges nothing.
        """
        return ()

    def probe(
        self, url: str, *, params: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One GET for a recheck that hands back 4xx answers too (a 404 can mean "deleted").

        No retries: a failed round purges nothing and the next one asks again.
        Transport errors, 429 and 5xx raise `SourceError`; the caller reads the rest.
        """
        try:
            resp = self.ctx.client.get(url, params=params, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            raise SourceError("unreachable", f"recheck: {type(exc).__name__}") from exc
        if resp.status_code == 429:
            raise SourceError("rate_limited", "recheck: 429 Too Many Requests", transient=True)
        if resp.status_code >= 500:
            raise SourceError("unreachable", f"recheck: HTTP {resp.status_code}", transient=True)
        return resp


def json_body(resp: httpx.Response) -> Any:
    """A recheck answer's JSON, or `SourceError` when it is not JSON (an HTML error page...)."""
    ctype = resp.headers.get("content-type", "").lower()
    if "json" not in ctype:
        raise SourceError(
            "bad_payload", f"recheck: HTTP {resp.status_code} sent {ctype or 'no type'}"
        )
    try:
        return resp.json()
    except ValueError as exc:
        raise SourceError("bad_payload", "recheck: JSON that does not parse") from exc


def check_asked(asked: Iterable[str], answered: Iterable[str]) -> None:
    """A batch answer that names an id we did not ask about is not trusted (wrong server?)."""
    extra = set(answered) - set(asked)
    if extra:
        raise SourceError("bad_payload", f"recheck: answer about {len(extra)} ids not asked")


_T = TypeVar("_T")
# What a pure parse raises on an item that does not fit. OverflowError and
# OSError come from timestamps beyond the platform's range (datetime.fromtimestamp
# raises OSError past year ~2**31 on Linux): one such item must not sink the page.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError)


def parse_each(
    items: Iterable[_T], parse_one: Callable[[_T], Mention | None]
) -> tuple[list[Mention], int]:
    """Parse items one at a time: (mentions deduplicated by external_id, malformed skipped).

    A malformed item is counted and skipped, never aborting the batch; `parse_one`
    returning None drops an item on purpose (deleted, retweet) without counting it.
    """
    out: dict[str, Mention] = {}
    skipped = 0
    for item in items:
        try:
            m = parse_one(item)
        except MALFORMED:
            skipped += 1
            continue
        if m is not None:
            out.setdefault(m.external_id, m)
    return list(out.values()), skipped
