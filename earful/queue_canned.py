"""Canned replies: from the config and the database, saved with an audit row, filled in.

The cut is here because canned replies are not queue items: they touch their
own table and, for the audit row, only `write_audit` from `earful.queue_rules`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from earful.config import Settings
from earful.models import utcnow
from earful.queue_rules import write_audit
from earful.schema import canned_replies as canned_table

if TYPE_CHECKING:
    from earful.store import Store


# -- canned replies --------------------------------------------------------------
_VAR = re.compile(r"\{(\w+)\}")


def canned_replies(store: Store, settings: Settings) -> list[tuple[str, str]]:
    """(name, text): the config's `[[canned_replies]]` first, then the table's (same name: table wins)."""
    out: dict[str, str] = {c.name: c.text for c in settings.canned_replies}
    with store.read() as conn:
        for r in conn.execute(
            sa.select(canned_table.c.name, canned_table.c.text).order_by(canned_table.c.name)
        ):
            out[r.name] = r.text
    return list(out.items())


def save_canned(
    store: Store, name: str, text: str, *, actor: str, now: datetime | None = None
) -> None:
    """Create or replace a canned reply kept in the database."""
    now = now or utcnow()
    name, text = name.strip(), text.strip()
    if not name or not text:
        raise ValueError("a canned reply needs a name and a text")
    with store.write() as conn:
        before = conn.scalar(sa.select(canned_table.c.text).where(canned_table.c.name == name))
        ins = store.insert(canned_table).values(
            name=name, text=text, created_by=actor, created_at=now
        )
        conn.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"text": text}))
        write_audit(
            conn,
            actor=actor,
            mention_id=None,
            action="canned_save",
            before=None if before is None else {"name": name, "text": before},
            after={"name": name, "text": text},
            now=now,
        )


def render_canned(text: str, *, author: str, brand: str) -> str:
    """Fill `{author}` and `{brand}`; unknown `{variables}` stay visible; never raises."""
    values = {"author": author, "brand": brand}
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)
