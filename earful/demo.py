"""The demo stream: a realistic, deterministic (seeded) stream of synthetic posts.

Every post is generated per hour bucket and per entity (the brand or a
competitor) from an RNG seeded with ``(seed, entity, hour)``, and its
`external_id` is ``demo:<seed>:<entity>:<hour>:<index>``. So any time range
yields the same posts however it is chunked, and `seed_demo` (30 days of
history) and the live `demo` listener (polling forward) never collide or
double. All texts come from the templates in `earful.demo_templates` (synthetic,
written for this project); posts carry `is_demo=True`, `source="demo"` and the
platform they mimic.

The mix: complaints (delays, outages, billing, lost orders, broken features,
waiting on support), questions, praise, neutral chatter and news, sarcasm,
non-English posts, posts addressed to the brand's handle, hashtags, links,
recurring authors with heavy-tailed follower counts, reply threads, a daily
and weekly rhythm, and (in the seeded history) one outage spike.

The stream is cut in layers, each importing only the ones below it: this
module keeps what works on ranges of hours and on the store (`generate`,
`generate_entity`, `seed_demo` and the cursors it leaves, `spike_time`,
`is_empty`); `earful.demo_hour` makes one entity's hour bucket,
`earful.demo_text` its texts, `earful.demo_ids` its ids and URLs and
`earful.demo_cast` the entities and authors. `Entity`, `entities_of` and
`generate_hour` are importable from here as before.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from earful.demo_cast import Entity, entities_of
from earful.demo_hour import HOUR, _hour_floor, generate_hour
from earful.models import Mention, as_utc, utcnow

if TYPE_CHECKING:
    from earful.config import Settings
    from earful.store import Store

FETCH_LAG = timedelta(seconds=90)


def generate_entity(
    ent: Entity,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    rate: float = 1.0,
    spike_at: datetime | None = None,
) -> Iterator[Mention]:
    """One entity's posts with start <= created_at < end, ascending."""
    start, end = as_utc(start), as_utc(end)
    hour = _hour_floor(start)
    while hour < end:
        for m in generate_hour(ent, hour, seed=seed, rate=rate, spike_at=spike_at):
            if start <= m.created_at < end:
                yield m
        hour += HOUR


def generate(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    rate: float = 1.0,
    spike_at: datetime | None = None,
) -> Iterator[Mention]:
    """Raw (un-enriched) demo posts for the brand and competitors, ascending created_at.

    Deterministic: the same (settings, seed, spike_at) yield the same posts for
    any time range, however it is split. `spike_at` places the outage spike (the
    brand's volume x5, mostly negative, for four hours); None means no spike.
    """
    streams = [
        generate_entity(e, start, end, seed=seed, rate=rate, spike_at=spike_at)
        for e in entities_of(settings)
    ]
    yield from heapq.merge(*streams, key=lambda m: (m.created_at, m.external_id))


def spike_time(now: datetime) -> datetime:
    """Where `seed_demo` puts the outage: 14:00 UTC two days before now (36-62 hours ago)."""
    return (_hour_floor(as_utc(now)) - timedelta(days=2)).replace(hour=14)


def is_empty(store: Store) -> bool:
    """True when the database holds no mentions at all (then `earful up` seeds the demo)."""
    return store.count_mentions() == 0


def seed_demo(
    store: Store,
    settings: Settings,
    *,
    days: int = 30,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Generate, enrich and store `days` of demo history up to `now`; return rows inserted.

    Stores one chunk (a few hours) per transaction. The last one also saves the
    cursor `{"until": now}` under ("demo", "seed") and, for every configured demo
    source, under each entity's query key, so the live listener continues from
    there instead of regenerating the window.

    Then `earful.demo_support.simulate_support` plays a support team through the
    queue items older than a few hours (replies, resolutions, dismissals, audit
    rows), so the queue and its KPIs look like a working team's; the newest
    items stay open. `progress(done, total)` counts hours, the last twentieth
    of it being that second phase.
    """
    from earful.demo_support import simulate_support
    from earful.pipeline import Pipeline  # late: the listener imports this module too

    now = as_utc(now or utcnow())
    start = now - timedelta(days=days)
    spike_at = spike_time(now)
    from earful.queue import attach_settings

    attach_settings(store, settings)  # queue items get the config's SLA targets
    pipe = Pipeline(settings)
    total = days * 24
    support_share = max(1, total // 20)  # of the progress total
    chunk = 12
    inserted = 0
    done = 0
    t = start
    cursor: dict[str, Any] = {
        "until": now.isoformat(),
        "seed": seed,
        "spike_at": spike_at.isoformat(),
    }
    while t < now:
        e = min(t + chunk * HOUR, now)
        raw = [  # history looks as if it had been fetched shortly after it was posted
            dataclasses.replace(m, fetched_at=min(m.created_at + FETCH_LAG, now))
            for m in generate(settings, t, e, seed=seed, spike_at=spike_at)
        ]
        kept, _dropped = pipe.enrich_all(raw)
        last = e >= now
        with store.write() as conn:
            res = store.save_page(
                "demo", "seed", kept, cursor if last else None, now=now, conn=conn
            )
            if last:
                _continue_cursors(store, conn, settings, cursor, now)
        inserted += res.inserted
        done = min(total, done + chunk)
        if progress is not None:
            progress(done * (total - support_share) // total, total)
        t = e

    def support_progress(d: int, n: int) -> None:
        if progress is not None:
            progress(total - support_share + support_share * d // max(1, n), total)

    simulate_support(store, settings, seed=seed, now=now, progress=support_progress)
    if progress is not None:
        progress(total, total)
    return inserted


def _continue_cursors(
    store: Store, conn: Any, settings: Settings, cursor: dict[str, Any], now: datetime
) -> None:
    import sqlalchemy as sa

    from earful.schema import cursors

    keys = [s.key for s in settings.sources if s.platform == "demo"] or ["demo"]
    for source in keys:
        for entity in settings.entities():
            old = conn.scalar(
                sa.select(cursors.c.cursor).where(
                    cursors.c.source == source, cursors.c.query_key == entity
                )
            )
            if old and old.get("until"):
                if as_utc(datetime.fromisoformat(old["until"])) >= now:
                    continue
            store.set_cursor(conn, source, entity, dict(cursor), now)


__all__ = [
    "Entity",
    "entities_of",
    "generate",
    "generate_entity",
    "generate_hour",
    "is_empty",
    "seed_demo",
    "spike_time",
]
