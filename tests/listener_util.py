"""Helpers shared by the listener tests: a listener on one source, what the store holds,
one `earful listen --once`, and one scheduled poll.

lines = listen_once(settings, store, now=NOW)   # asserts the exit code is 0
assert stored(store) == ["1", "2"]              # sorted external ids
res = live_poll(settings, store, NOW)           # a PollResult, as the worker's schedule runs it
listener, settings = listener_for({"platform": "x", "base_url": url}, now=NOW, secrets=S)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from conftest import SAMPLE_CONFIG

from earful.config import Settings, settings_from_dict
from earful.poller import Poller, PollResult, listen
from earful.schema import mentions
from earful.store import Store
from listeners import REGISTRY
from listeners._http import make_client
from listeners.base import Context, Listener


def listener_for(
    source: dict[str, Any],
    *,
    now: datetime,
    secrets: dict[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> tuple[Listener, Settings]:
    """The registered listener for one `[[sources]]` entry (added to the sample config), with a
    real HTTP client, a clock fixed at `now` (or `clock`) and no real sleeping."""
    settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [source]}, secrets=secrets or {})
    ctx = Context(
        source=settings.sources[0],
        client=make_client(timeout=3),
        secrets=secrets or {},
        clock=clock or (lambda: now),
        sleep=lambda _s: None,
    )
    return REGISTRY[settings.sources[0].platform](ctx), settings


def stored(store: Store, *, column: str = "external_id", as_set: bool = False) -> Any:
    """The stored mentions' `column` values (`external_id` or `native_id`): sorted, or a set."""
    with store.read() as conn:
        values = conn.scalars(sa.select(mentions.c[column]))
        return set(values) if as_set else sorted(values)


def listen_once(
    settings: Any,
    store: Store,
    *,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = lambda _s: None,
    only: str | None = None,
    client: httpx.Client | None = None,
    timeout: float = 3,
) -> list[str]:
    """Poll every source once (or `only` one) with no real waiting; return the printed lines.

    The clock is `clock`, else always `now`, else the real one. The HTTP client is `client`
    (left open), else a new one with `timeout` seconds, closed afterwards.
    """
    if clock is None and now is not None:
        clock = lambda: now  # noqa: E731
    timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
    lines: list[str] = []
    own = make_client(timeout=timeout) if client is None else contextlib.nullcontext(client)
    with own as http:
        code = listen(
            settings,
            store,
            once=True,
            only=only,
            sleep=sleep,
            out=lines.append,
            client=http,
            **timing,
        )
    assert code == 0
    return lines


def live_poll(settings: Any, store: Store, now: datetime) -> PollResult:
    """One scheduled (not --once) poll of the only source, as the worker runs it."""
    with make_client(timeout=3) as http:
        poller = Poller(
            settings, store, client=http, clock=lambda: now, sleep=lambda _s: None, out=print
        )
        poller.ensure_health(settings.sources)
        return poller.run_source(settings.sources[0], once=False)
