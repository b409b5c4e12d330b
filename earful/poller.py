"""The listener worker: schedules every (source, query), stores pages, keeps health honest.

- Each source is polled every `source.every`; its queries come from
  `listener.queries(settings.entities())` (brand + each competitor, or the
  source's `query` override).
- Every `Page` a listener yields is enriched (`Pipeline.enrich_all`) and saved
  with its cursor in ONE transaction (`Store.save_page`), inside which the
  worker also renews its lease: a crash at any instant loses nothing and
  stores nothing twice, and a worker that lost its lease writes nothing.
  Consecutive pages of one walk share that transaction (up to 5,000
  mentions or 2 seconds): the cursor written is the newest of the group.
- The first poll of a (source, query) has no cursor: the listener backfills
  `source.backfill` (default 7 days). Later polls start from the cursor.
- One `source_health` row per source: last success, last error in plain words
  and its kind, rate-limited-until, consecutive failures, items last poll and
  today, skipped (malformed + off-topic), next poll, and the lease
  (`lease_owner`, `lease_until`) that keeps two workers off one source. A
  lease is taken with one atomic UPDATE (free, expired or already ours), so it
  works the same on SQLite and PostgreSQL, and a dead worker's lease expires
  (at once when the dead worker was a process on this same host).
- `--once` polls each source until it is caught up (bounded pages), retries
  transient faults with backoff within the run, prints one line per source
  and returns 0 even when sources failed.
- SIGINT/SIGTERM set a stop flag: the current write finishes, then we exit.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import ConfigError, Settings, SourceConfig
from earful.models import Mention, as_utc, utcnow
from earful.pipeline import Pipeline
from earful.schema import source_health
from earful.store import Store
from listeners import REGISTRY
from listeners.base import ERROR_WORDS, Context, Listener, Query, SourceError

LEASE_TTL = timedelta(minutes=5)
MAX_PAGES_ONCE = 1000  # per (source, query) in one --once run
MAX_PAGES_LIVE = 100  # per (source, query) in one scheduled poll; the rest next time
ONCE_RETRIES = 3
ONCE_MAX_RATE_WAIT = timedelta(minutes=2)  # --once waits out rate limits shorter than this
FAILURE_BACKOFF_CAP = timedelta(hours=1)
IDLE_WAIT_CAP = 30.0  # seconds between schedule checks at most
CHORES_EVERY = timedelta(minutes=1)  # snoozed items, alert detection and delivery
# Pages written in one transaction (see _Pending): whichever bound comes first.
GROUP_ROWS = 5000  # EARFUL_WRITE_GROUP overrides it (1: every page in its own transaction)
GROUP_CHARS = 8_000_000  # text held in memory before a write
GROUP_SECONDS = 2.0  # a slow walk still shows up on the dashboard every few seconds

Clock = Callable[[], datetime]


class _LostLease(Exception):
    """Another worker holds this source now (our lease expired): stop writing."""


@dataclass
class PollResult:
    source: str
    new: int = 0
    duplicates: int = 0
    malformed: int = 0
    dropped: int = 0
    pages: int = 0
    error: SourceError | None = None
    busy: bool = False
    attempts: int = 0
    more: bool = False  # stopped at the page bound with more to fetch: poll again soon
    queries: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.busy:
            return f"{self.source}: skipped, another worker is polling it"
        counts = (
            f"{self.new} new, {self.duplicates} already stored, "
            f"{self.malformed + self.dropped} skipped "
            f"({self.malformed} malformed, {self.dropped} off-topic), {self.pages} pages"
        )
        if self.error is None:
            retried = f", after {self.attempts - 1} retries" if self.attempts > 1 else ""
            return f"{self.source}: ok, {counts}{retried}"
        return f"{self.source}: FAILED: {describe(self.error)}; {counts}"


def describe(err: SourceError) -> str:
    """An error in plain words, e.g. 'rate-limited by the platform until 12:05 UTC (...)'."""
    words = ERROR_WORDS.get(err.kind, ERROR_WORDS["error"])
    if err.retry_at is not None and err.kind in ("rate_limited", "blocked"):
        words += f" until {as_utc(err.retry_at).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    return f"{words} ({err.message})" if err.message else words


def worker_id() -> str:
    """`host:pid:random`: unique per process, and lets a restart spot a crashed predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _dead_local_worker(owner: str) -> bool:
    """True when `owner` names a worker process on this host that no longer exists."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def write_group(environ: Mapping[str, str] | None = None) -> int:
    """Mentions per write transaction at most: EARFUL_WRITE_GROUP, else GROUP_ROWS."""
    raw = (os.environ if environ is None else environ).get("EARFUL_WRITE_GROUP")
    if raw is None or not raw.strip():
        return GROUP_ROWS
    try:
        rows = int(raw)
    except ValueError:
        rows = 0
    if rows < 1:
        raise ConfigError(
            f"EARFUL_WRITE_GROUP: {raw!r} is not a number of mentions per write (1 or more)"
        )
    return rows


class _Pending:
    """Enriched pages waiting to be written together with the newest of their cursors.

    One transaction per page made SQLite's commit (every dirty index page
    written to the WAL) the largest cost of a backfill; a group of pages
    shares it. A crash loses only unwritten pages, whose cursor was not
    written either, so the next run fetches them again.
    """

    __slots__ = ("rows", "mentions", "cursor", "pages", "chars", "since")

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.mentions: list[Mention] = []
        self.cursor: dict[str, Any] | None = None
        self.pages = 0
        self.chars = 0
        self.since = 0.0

    def add(self, kept: list[Mention], cursor: dict[str, Any] | None) -> None:
        if not self.pages:
            self.since = time.monotonic()
        self.mentions += kept
        self.chars += sum(len(m.text) for m in kept)
        if cursor is not None:  # a page without a cursor leaves the cursor where it is
            self.cursor = cursor
        self.pages += 1

    def full(self) -> bool:
        return (
            len(self.mentions) >= self.rows
            or self.chars >= GROUP_CHARS
            or time.monotonic() - self.since >= GROUP_SECONDS
        )

    def take(self) -> tuple[list[Mention], dict[str, Any] | None, int]:
        """The group, leaving this empty (so a failed write is not retried by `finally`)."""
        out = (self.mentions, self.cursor, self.pages)
        self.mentions, self.cursor, self.pages, self.chars = [], None, 0, 0
        return out


class Poller:
    """One worker. `run_once()` for `--once`, `run_forever()` for the daemon."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client: httpx.Client,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
        out: Callable[[str], None] = print,
        owner: str | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.clock = clock
        self._sleep = sleep
        self.stop = stop or threading.Event()
        self.out = out
        self.owner = owner or worker_id()
        self.pipeline = pipeline or Pipeline(settings)
        self.group_rows = write_group()
        self._listeners: dict[str, Listener] = {}
        self._chores_at: datetime | None = None
        from earful.queue import attach_settings

        attach_settings(store, settings)  # SLA targets for queue items this worker opens

    # -- helpers ------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Injected sleep; the real one is cut short by a stop request."""
        if seconds <= 0:
            return
        if self._sleep is time.sleep:
            self.stop.wait(seconds)
        else:
            self._sleep(seconds)

    def listener(self, src: SourceConfig) -> Listener:
        if src.key not in self._listeners:
            cls = REGISTRY[src.platform]
            ctx = Context(
                source=src,
                client=self.client,
                secrets=self.settings.secrets,
                clock=self.clock,
                sleep=self.sleep,
            )
            self._listeners[src.key] = cls(ctx)
        return self._listeners[src.key]

    def sources(self, only: str | None = None) -> list[SourceConfig]:
        if only is not None:
            try:
                src = self.settings.source(only)
            except KeyError:
                known = ", ".join(s.key for s in self.settings.sources) or "none configured"
                raise KeyError(
                    f"no source named {only!r} in {self.settings.path} (known: {known})"
                ) from None
            return [src]
        return [s for s in self.settings.sources if s.enabled]

    # -- health and leases ----------------------------------------------------------
    def ensure_health(self, sources: list[SourceConfig]) -> None:
        if not sources:
            return
        ins = self.store.insert(source_health)
        stmt = ins.on_conflict_do_update(  # a renamed platform under the same name follows config
            index_elements=["source"], set_={"platform": ins.excluded.platform}
        )
        with self.store.write() as conn:
            for s in sources:
                conn.execute(stmt, {"source": s.key, "platform": s.platform})

    def take_lease(self, key: str) -> bool:
        """Atomically claim `key` when its lease is free, expired or already ours."""
        now = self.clock()
        with self.store.write() as conn:
            conn.execute(
                self.store.insert(source_health)
                .values(source=key, platform=self.settings.source(key).platform)
                .on_conflict_do_nothing(index_elements=["source"])
            )
            if self._claim(conn, key, now):
                return True
            holder = conn.scalar(
                sa.select(source_health.c.lease_owner).where(source_health.c.source == key)
            )
            if holder and _dead_local_worker(holder):  # crashed on this host: no need to wait
                res = conn.execute(
                    source_health.update()
                    .where(source_health.c.source == key, source_health.c.lease_owner == holder)
                    .values(lease_owner=self.owner, lease_until=now + LEASE_TTL)
                )
                return res.rowcount == 1
            return False

    def _claim(self, conn: Connection, key: str, now: datetime) -> bool:
        h = source_health.c
        res = conn.execute(
            source_health.update()
            .where(
                h.source == key,
                sa.or_(
                    h.lease_owner.is_(None),
                    h.lease_until.is_(None),
                    h.lease_until < now,
                    h.lease_owner == self.owner,
                ),
            )
            .values(lease_owner=self.owner, lease_until=now + LEASE_TTL)
        )
        return res.rowcount == 1

    def _renew(self, conn: Connection, key: str, now: datetime) -> None:
        h = source_health.c
        res = conn.execute(
            source_health.update()
            .where(h.source == key, h.lease_owner == self.owner)
            .values(lease_until=now + LEASE_TTL)
        )
        if res.rowcount != 1:
            raise _LostLease(key)

    def release_lease(self, key: str) -> None:
        h = source_health.c
        with self.store.write() as conn:
            conn.execute(
                source_health.update()
                .where(h.source == key, h.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def health(self, key: str) -> dict[str, Any] | None:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(source_health).where(source_health.c.source == key)
            ).first()
        return dict(row._mapping) if row is not None else None

    def _record(self, src: SourceConfig, res: PollResult, started: datetime) -> None:
        now = self.clock()
        today = now.date().isoformat()
        h = source_health.c
        with self.store.write() as conn:
            row = conn.execute(sa.select(source_health).where(h.source == src.key)).first()
            prev_today = row.items_today if row is not None and row.today == today else 0
            failures = row.consecutive_failures if row is not None else 0
            values: dict[str, Any] = {
                "last_attempt": started,
                "items_last_poll": res.new,
                "items_today": prev_today + res.new,
                "today": today,
                "skipped_total": (row.skipped_total if row is not None else 0)
                + res.malformed
                + res.dropped,
            }
            if res.error is None:
                values |= {
                    "last_success": now,
                    "consecutive_failures": 0,
                    "rate_limited_until": None,
                    "next_poll": now if res.more else now + src.every,
                }
            else:
                err = res.error
                failures += 1
                backoff = min(
                    src.every * (2 ** (failures - 1)), max(src.every, FAILURE_BACKOFF_CAP)
                )
                nxt = now + backoff
                if err.retry_at is not None:
                    nxt = max(nxt, as_utc(err.retry_at))
                values |= {
                    "last_error": describe(err),
                    "error_kind": err.kind,
                    "last_error_at": now,
                    "consecutive_failures": failures,
                    "rate_limited_until": as_utc(err.retry_at)
                    if err.kind == "rate_limited" and err.retry_at is not None
                    else None,
                    "next_poll": nxt,
                }
            conn.execute(source_health.update().where(h.source == src.key).values(**values))

    # -- polling --------------------------------------------------------------------
    def _enrich(self, batch: list[Mention], source: str) -> tuple[list[Mention], int, int]:
        """(kept, off-topic dropped, malformed) -- one bad post never aborts the batch.

        Mentions without a source are tagged with this one in the enriched copy
        (fetched_at defaults to the write time in the store)."""
        try:
            kept, dropped = self.pipeline.enrich_all(batch, source)
            return kept, dropped, 0
        except Exception:  # noqa: BLE001 - fall back to one at a time and count the culprits
            kept, dropped, bad = [], 0, 0
            for m in batch:
                try:
                    e = self.pipeline.enrich(m, source)
                except Exception:  # noqa: BLE001
                    bad += 1
                    continue
                if e is None:
                    dropped += 1
                else:
                    kept.append(e)
            return kept, dropped, bad

    def _save(self, src: SourceConfig, query: Query, pending: _Pending, res: PollResult) -> None:
        """Write the pending pages' mentions and their newest cursor in one transaction."""
        if not pending.pages:
            return
        kept, cursor, pages = pending.take()
        now = self.clock()
        with self.store.write() as conn:
            self._renew(conn, src.key, now)
            saved = self.store.save_page(src.key, query.key, kept, cursor, now=now, conn=conn)
        res.new += saved.inserted
        res.duplicates += saved.duplicates
        res.pages += pages

    def poll_source(self, src: SourceConfig, res: PollResult, *, once: bool) -> None:
        """One pass over every query of `src`; raises SourceError on failure.

        Pages are enriched as they arrive and written together (`_Pending`):
        up to GROUP_ROWS mentions or GROUP_SECONDS per transaction, and always
        before the walk ends, stops, fails or hits its page bound. A walk that
        ends with `Page.more` (the listener stopped at its own bound, its
        cursor saved where it stopped) is walked again from that cursor with
        --once, and brings the next poll forward otherwise.
        """
        listener = self.listener(src)
        max_pages = MAX_PAGES_ONCE if once else MAX_PAGES_LIVE
        for query in listener.queries(self.settings.entities()):
            if query.key not in res.queries:
                res.queries.append(query.key)
            cursor = self.store.get_cursor(src.key, query.key)
            pages = 0
            while True:
                more, walked = self._walk(src, query, listener, cursor, res, max_pages - pages)
                pages += walked
                if not more or self.stop.is_set():
                    break
                if not once or pages >= max_pages:
                    res.more = True  # the rest comes with the next poll, brought forward
                    break
                before, cursor = cursor, self.store.get_cursor(src.key, query.key)
                if cursor == before:  # "more" without progress: do not spin
                    res.more = True
                    break
            if self.stop.is_set():
                return

    def _walk(
        self,
        src: SourceConfig,
        query: Query,
        listener: Listener,
        cursor: dict[str, Any] | None,
        res: PollResult,
        max_pages: int,
    ) -> tuple[bool, int]:
        """One walk of the listener from `cursor`: (more to fetch, pages read)."""
        pages = 0
        more = False
        pending = _Pending(self.group_rows)
        try:
            for page in listener.poll(query, cursor):
                kept, dropped, bad = self._enrich(list(page.mentions), src.key)
                res.dropped += dropped
                res.malformed += page.skipped + bad
                pending.add(kept, page.cursor)
                pages += 1
                more = page.more
                last = page.done or self.stop.is_set() or pages >= max_pages
                if last or pending.full():
                    self._save(src, query, pending, res)
                if page.done or self.stop.is_set():
                    break
                if pages >= max_pages:
                    more = True
                    break
        finally:  # a fetch error mid-walk keeps what was fetched before it
            self._save(src, query, pending, res)
        return more, pages

    def run_source(self, src: SourceConfig, *, once: bool) -> PollResult:
        """Lease, poll (with in-run retries for --once), record health, release."""
        res = PollResult(src.key)
        if not self.take_lease(src.key):
            res.busy = True
            return res
        started = self.clock()
        try:
            while True:
                res.attempts += 1
                res.error = None
                try:
                    self.poll_source(src, res, once=once)
                except SourceError as exc:
                    res.error = exc
                except _LostLease:
                    res.busy = True
                    return res
                except Exception as exc:  # noqa: BLE001 - a listener bug must not kill the worker
                    res.error = SourceError("error", f"{type(exc).__name__}: {exc}")
                err = res.error
                if err is None or not once or self.stop.is_set():
                    break
                if res.attempts > ONCE_RETRIES:
                    break
                wait = self._retry_wait(err, res.attempts)
                if wait is None:
                    break
                self.sleep(wait)
                if not self._still_ours(src.key):
                    res.busy = True
                    return res
            self._record(src, res, started)
            return res
        finally:
            self.release_lease(src.key)

    def _retry_wait(self, err: SourceError, attempt: int) -> float | None:
        now = self.clock()
        if err.kind == "rate_limited" and err.retry_at is not None:
            wait = as_utc(err.retry_at) - now
            return max(0.0, wait.total_seconds()) if wait <= ONCE_MAX_RATE_WAIT else None
        if err.transient:
            return min(30.0, 1.0 * 2 ** (attempt - 1))
        return None

    def _still_ours(self, key: str) -> bool:
        now = self.clock()
        with self.store.write() as conn:
            return self._claim(conn, key, now)

    # -- modes ----------------------------------------------------------------------
    def run_once(self, only: str | None = None) -> int:
        sources = self.sources(only)
        self.ensure_health(sources)
        for src in sources:
            if self.stop.is_set():
                self.out(f"{src.key}: not polled, stopping")
                continue
            self.out(self.run_source(src, once=True).summary())
        self.chores()
        return 0

    def run_forever(self, only: str | None = None) -> int:
        sources = self.sources(only)
        self.ensure_health(sources)
        if not sources:
            self.out("no sources to poll; waiting for a stop signal")
        while not self.stop.is_set():
            for src in sources:
                if self.stop.is_set():
                    break
                h = self.health(src.key) or {}
                nxt = h.get("next_poll")
                if nxt is not None and as_utc(nxt) > self.clock():
                    continue
                res = self.run_source(src, once=False)
                if not res.busy:
                    self.out(res.summary())
            self.chores()
            self.stop.wait(self._idle_seconds(sources))
        return 0

    def chores(self) -> None:
        """Wake snoozed queue items, detect and deliver alerts (earful.alerts), once a minute."""
        now = self.clock()
        if self._chores_at is not None and now - self._chores_at < CHORES_EVERY:
            return
        self._chores_at = now
        try:
            from earful.alerts import housekeeping

            lines = housekeeping(self.store, self.settings, self.client, now, sleep=self.sleep)
        except Exception as exc:  # noqa: BLE001 - chores must never stop the polling
            lines = [f"chores failed: {type(exc).__name__}: {exc}"]
        for line in lines:
            self.out(line)

    def _idle_seconds(self, sources: list[SourceConfig]) -> float:
        now = self.clock()
        waits = [IDLE_WAIT_CAP]
        for src in sources:
            nxt = (self.health(src.key) or {}).get("next_poll")
            waits.append(0.0 if nxt is None else (as_utc(nxt) - now).total_seconds())
        return min(IDLE_WAIT_CAP, max(0.05, min(waits)))


def listen(
    settings: Settings,
    store: Store,
    *,
    once: bool = False,
    only: str | None = None,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
    out: Callable[[str], None] = print,
    client: httpx.Client | None = None,
) -> int:
    """Run the worker (`earful listen`); returns the exit code (0 even when sources failed).

    Raises KeyError for an unknown `only` source name.
    """
    from listeners._http import make_client

    own_client = client is None
    http = client or make_client()
    own_stop = stop is None
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if own_stop and threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: Any) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        poller = Poller(settings, store, client=http, clock=clock, sleep=sleep, stop=stop, out=out)
        return poller.run_once(only) if once else poller.run_forever(only)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_client:
            http.close()


# -- status ---------------------------------------------------------------------
def _status(row: dict[str, Any] | None, now: datetime) -> str:
    if row is None or row.get("last_attempt") is None:
        return "never polled"
    until = row.get("rate_limited_until")
    if until is not None and as_utc(until) > now:
        return "rate-limited"
    if (row.get("consecutive_failures") or 0) > 0:
        return "needs credentials" if row.get("error_kind") == "needs_credentials" else "failing"
    return "ok"


def status_rows(
    settings: Settings, store: Store, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One dict per configured source: its health in words the dashboard and CLI print."""
    now = now or utcnow()
    with store.read() as conn:
        rows = {r.source: dict(r._mapping) for r in conn.execute(sa.select(source_health))}
    out = []
    today = now.date().isoformat()
    for src in settings.sources:
        row = rows.get(src.key)
        cls = REGISTRY.get(src.platform)
        failing = row is not None and (row.get("consecutive_failures") or 0) > 0
        out.append(
            {
                "name": src.key,
                "platform": src.platform,
                "enabled": src.enabled,
                "status": _status(row, now),
                "last_success": row.get("last_success") if row else None,
                "last_attempt": row.get("last_attempt") if row else None,
                "last_error": row.get("last_error") if row else None,
                "error_kind": row.get("error_kind") if row and failing else None,
                "last_error_at": row.get("last_error_at") if row else None,
                "consecutive_failures": row.get("consecutive_failures", 0) if row else 0,
                "rate_limited_until": row.get("rate_limited_until") if row else None,
                "items_last_poll": row.get("items_last_poll", 0) if row else 0,
                "items_today": row.get("items_today", 0)
                if row and row.get("today") == today
                else 0,
                "skipped_total": row.get("skipped_total", 0) if row else 0,
                "next_poll": row.get("next_poll") if row else None,
                "every": src.every,
                "sees": cls.sees if cls is not None else "",
            }
        )
    return out


__all__ = ["listen", "status_rows", "Poller", "PollResult", "describe", "LEASE_TTL"]
