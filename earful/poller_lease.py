"""Source leases: one worker polls a source at a time, and a dead worker's lease expires.

Part of `earful.poller`. A lease is the `lease_owner` and `lease_until` columns
of the source's `source_health` row, taken with one atomic UPDATE (free,
expired or already ours), so it works the same on SQLite and PostgreSQL;
the owner is `worker_id()`, so a lease held by a process of this host that no
longer exists (or is a zombie) is taken at once instead of after LEASE_TTL.
The poller renews the lease inside each write transaction (`renew`), and a
worker that lost it stops writing (`_LostLease`).

The cut is here because this is the whole multi-worker protocol, with the
store, the owner and the time passed in: it can be read and checked on its
own, while the poller keeps only the points where it takes, renews and
releases a lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.schema import source_health

if TYPE_CHECKING:
    from earful.store import Store

LEASE_TTL = timedelta(minutes=5)


class _LostLease(Exception):
    """Another worker holds this source now (our lease expired): stop writing."""


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


def take_lease(store: Store, key: str, platform: str, owner: str, now: datetime) -> bool:
    """Atomically claim `key` for `owner` when its lease is free, expired or already ours."""
    with store.write() as conn:
        conn.execute(
            store.insert(source_health)
            .values(source=key, platform=platform)
            .on_conflict_do_nothing(index_elements=["source"])
        )
        if claim(conn, key, owner, now):
            return True
        holder = conn.scalar(
            sa.select(source_health.c.lease_owner).where(source_health.c.source == key)
        )
        if holder and _dead_local_worker(holder):  # crashed on this host: no need to wait
            res = conn.execute(
                source_health.update()
                .where(source_health.c.source == key, source_health.c.lease_owner == holder)
                .values(lease_owner=owner, lease_until=now + LEASE_TTL)
            )
            return res.rowcount == 1
        return False


def claim(conn: Connection, key: str, owner: str, now: datetime) -> bool:
    """The one atomic UPDATE: `owner` holds `key` until now + LEASE_TTL (True) or not."""
    h = source_health.c
    res = conn.execute(
        source_health.update()
        .where(
            h.source == key,
            sa.or_(
                h.lease_owner.is_(None),
                h.lease_until.is_(None),
                h.lease_until < now,
                h.lease_owner == owner,
            ),
        )
        .values(lease_owner=owner, lease_until=now + LEASE_TTL)
    )
    return res.rowcount == 1


def renew(conn: Connection, key: str, owner: str, now: datetime) -> None:
    """Extend `owner`'s lease in the caller's write transaction; `_LostLease` when it is gone."""
    h = source_health.c
    res = conn.execute(
        source_health.update()
        .where(h.source == key, h.lease_owner == owner)
        .values(lease_until=now + LEASE_TTL)
    )
    if res.rowcount != 1:
        raise _LostLease(key)


def release_lease(store: Store, key: str, owner: str) -> None:
    """Free `key` if `owner` still holds it (a lease taken over meanwhile is left alone)."""
    h = source_health.c
    with store.write() as conn:
        conn.execute(
            source_health.update()
            .where(h.source == key, h.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
