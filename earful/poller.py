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
- One `source_health` row per source holds what each poll did
  (`earful.poller_health`) and the lease that keeps two workers off one
  source and expires when its worker dies (`earful.poller_lease`).
- `--once` polls each source until it is caught up (bounded pages), retries
  transient faults with backoff within the run, prints one line per source
  and returns 0 even when sources failed.
- SIGINT/SIGTERM set a stop flag: the current write finishes, then we exit.

This module keeps the schedule, the walk, its group-commit transaction and
the --once retries; a page's enrichment and the group buffer are in
`earful.poller_pages`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from earful import poller_health, poller_lease
from earful.config import ConfigError, Settings, SourceConfig
from earful.models import as_utc, utcnow
from earful.pipeline import Pipeline
from earful.poller_health import PollResult, describe, status_rows
from earful.poller_lease import LEASE_TTL, _LostLease, claim, renew, worker_id
from earful.poller_pages import _Pending, enrich_page
from earful.purge import purge_mentions
from earful.recheck import recheck_due
from earful.store import Store
from listeners import REGISTRY
from listeners.base import Context, Listener, Query, SourceError

MAX_PAGES_ONCE = 1000  # per (source, query) in one --once run
MAX_PAGES_LIVE = 100  # per (source, query) in one scheduled poll; the rest next time
ONCE_RETRIES = 3
ONCE_MAX_RATE_WAIT = timedelta(minutes=2)  # --once waits out rate limits shorter than this
IDLE_WAIT_CAP = 30.0  # seconds between schedule checks at most
CHORES_EVERY = timedelta(minutes=1)  # snoozed items, alert detection and delivery
# Mentions written in one transaction at most (see _Pending, which also bounds text and time).
GROUP_ROWS = 5000  # EARFUL_WRITE_GROUP overrides it (1: every page in its own transaction)

Clock = Callable[[], datetime]


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

    # -- health and leases (earful.poller_health, earful.poller_lease) -------------
    def ensure_health(self, sources: list[SourceConfig]) -> None:
        poller_health.ensure_health(self.store, sources)

    def take_lease(self, key: str) -> bool:
        """Atomically claim `key` when its lease is free, expired or already ours."""
        now = self.clock()
        platform = self.settings.source(key).platform
        return poller_lease.take_lease(self.store, key, platform, self.owner, now)

    def release_lease(self, key: str) -> None:
        poller_lease.release_lease(self.store, key, self.owner)

    def health(self, key: str) -> dict[str, Any] | None:
        return poller_health.health(self.store, key)

    # -- polling --------------------------------------------------------------------
    def _save(self, src: SourceConfig, query: Query, pending: _Pending, res: PollResult) -> None:
        """Write the pending pages' mentions and their newest cursor in one transaction."""
        if not pending.pages:
            return
        kept, cursor, pages, gone = pending.take()
        now = self.clock()
        with self.store.write() as conn:
            renew(conn, src.key, self.owner, now)
            saved = self.store.save_page(src.key, query.key, kept, cursor, now=now, conn=conn)
            if gone:  # after the insert: a post stored and deleted within one group goes too
                res.purged += purge_mentions(conn, src.platform, gone, now=now)
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
                kept, dropped, bad = enrich_page(self.pipeline, list(page.mentions), src.key)
                res.dropped += dropped
                res.malformed += page.skipped + bad
                pending.add(kept, page.cursor, page.gone)
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
            poller_health.record(self.store, src, res, started, self.clock())
            if not once and res.error is None and not self.stop.is_set():
                # posts deleted since we stored them leave the reply queue (under the lease)
                line = recheck_due(self.store, self.listener(src), src, self.clock())
                if line:
                    self.out(f"{src.key}: {line}")
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
            return claim(conn, key, self.owner, now)

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


__all__ = ["listen", "status_rows", "Poller", "PollResult", "describe", "LEASE_TTL"]
