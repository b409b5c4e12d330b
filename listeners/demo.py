"""Demo stream (placeholder; the demo task replaces this with the realistic generator)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from earful.models import Mention, Page
from listeners.base import Listener, Query


class DemoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 7
    per_hour: float = 20.0


class DemoListener(Listener):
    platform = "demo"
    Options: ClassVar[type[BaseModel]] = DemoOptions
    needs_network = False
    sees = "Synthetic posts generated locally so the dashboard is alive without network."

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        now = self.ctx.clock()
        m = Mention(
            platform="demo",
            external_id=f"demo:{query.key}:{int(now.timestamp()) // 60}",
            url="",
            author="demo_user",
            text=f"I love {query.entity}",
            created_at=now - timedelta(seconds=1),
            is_demo=True,
        )
        yield Page([m], {"until": now.isoformat()}, done=True)
