"""Demo: synthetic posts generated locally, so the dashboard is alive without network.

Endpoint: none (no HTTP at all). Auth: none. Rate limit: none.
Options: `seed` (int, default 7: the same seed as `earful demo` continues its
history without duplicates) and `rate` (volume multiplier, default 1.0).
Cursor: `{"until": ISO}`, the end of the generated window; the first poll
starts at now - `backfill`, capped at two days. Pages cover about six hours
each, oldest first, and only posts with created_at before the clock's now.

Posts come from `earful.demo` (deterministic per hour bucket and entity) and
mimic x, mastodon, bluesky, reddit, hackernews, lemmy and rss; each carries
`is_demo=True`, `source="demo"` and an external_id starting with "demo:".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.demo import Entity, generate_entity
from earful.models import Page, as_utc
from listeners.base import Listener, Query

MAX_WINDOW = timedelta(days=2)
CHUNK = timedelta(hours=6)


class DemoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 7
    rate: float = Field(default=1.0, gt=0, le=50)


class DemoListener(Listener):
    platform = "demo"
    Options: ClassVar[type[BaseModel]] = DemoOptions
    needs_network = False
    sees = (
        "Synthetic demo data generated locally (not real posts): a seeded stream for the "
        "brand and competitors, labelled as demo everywhere."
    )

    def queries(self, entities: Mapping[str, list[str]]) -> list[Query]:
        # Remember which entity is the brand (first) and each competitor's rank.
        self.ctx.state["demo_ranks"] = {name: i for i, name in enumerate(entities)}
        return super().queries(entities)

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        opts: DemoOptions = self.options  # type: ignore[assignment]
        now = as_utc(self.ctx.clock())
        floor = now - MAX_WINDOW
        start = _when(cursor, "until") or now - self.ctx.source.backfill
        start = max(start, floor)
        spike_at = _when(cursor, "spike_at")
        ranks: dict[str, int] = self.ctx.state.get("demo_ranks", {})
        terms = query.terms or ((query.override,) if query.override else (query.entity,))
        ent = Entity(query.entity, tuple(terms), ranks.get(query.entity, 0))
        keep = {k: v for k, v in (cursor or {}).items() if k in ("seed", "spike_at")}
        t = start
        while True:
            end = max(t, min(t + CHUNK, now))
            batch = list(
                generate_entity(ent, t, end, seed=opts.seed, rate=opts.rate, spike_at=spike_at)
            )
            done = end >= now
            yield Page(batch, {**keep, "until": end.isoformat()}, done=done)
            if done:
                return
            t = end


def _when(cursor: dict[str, Any] | None, key: str) -> datetime | None:
    value = (cursor or {}).get(key)
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None
