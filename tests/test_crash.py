"""Crash safety: SIGKILL `earful listen --once` at random moments, restart, nothing lost or doubled.

The worker is the real CLI in a subprocess, polling a local fake Hacker News
search with thousands of posts on a real SQLite file. The server kills it
after a random number of requests plus a random delay, so deaths land in
HTTP reads, parsing, scoring and inside write transactions (two pages per
transaction during the kills, the default grouping for the last run). After the
kills a last run completes; the stored set must equal the server's set, and the
hourly rollup must count each stored mention exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import ROOT
from localserver import AlgoliaFake, hn_hit

from earful.schema import mentions, rollup_hourly
from earful.store import Store

KILLS = 12
N = 1500


def write_config(tmp_path, url: str) -> str:
    cfg = tmp_path / "earful.toml"
    cfg.write_text(
        f"""
[brand]
name = "Acme"
terms = ["acme"]

[[sources]]
platform = "hackernews"
base_url = "{url}"
hits_per_page = 25
backfill = "30d"
"""
    )
    return str(cfg)


def start(cfg: str, db: str, *args: str, group: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if group is not None:  # mentions per write transaction (pages of 25 hits)
        env["EARFUL_WRITE_GROUP"] = str(group)
    return subprocess.Popen(
        [sys.executable, "-m", "earful.cli", "--config", cfg, "--db", db, "listen", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def setup(tmp_path, srv, sqlite_url, sqlite_store):
    now = int(time.time())
    posts = [hn_hit(i, now - 60 * i, f"acme crash test post {i}") for i in range(1, N + 1)]
    srv.route("/api/v1/search_by_date", AlgoliaFake(posts, cap=100_000))
    cfg = write_config(tmp_path, srv.url)
    return srv, cfg, sqlite_url, sqlite_store, {p["objectID"] for p in posts}


def stored(store: Store) -> tuple[list[str], int]:
    with store.read() as c:
        ids = list(c.scalars(sa.select(mentions.c.external_id)))
        rolled = c.scalar(sa.select(sa.func.coalesce(sa.func.sum(rollup_hourly.c.n), 0)))
    return ids, int(rolled or 0)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_doubles_nothing(setup):
    srv, cfg, db, store, expected = setup
    rng = random.Random(20261125)
    kills = 0
    for _ in range(KILLS * 2):
        if kills >= KILLS:
            break
        # two pages per write: deaths land inside and between grouped writes
        proc = start(cfg, db, "--once", group=50)
        target = len(srv.requests) + rng.randint(1, 6)
        fired = threading.Event()

        def hook(req, proc=proc, target=target, fired=fired):
            if len(srv.requests) >= target and not fired.is_set():
                fired.set()
                delay = rng.uniform(0, 0.08)
                threading.Timer(delay, lambda: proc.poll() is None and proc.kill()).start()

        srv.on_request = hook
        try:
            proc.wait(timeout=60)
        finally:
            srv.on_request = None
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        ids, rolled = stored(store)
        assert len(ids) == len(set(ids)) and rolled == len(ids)
    assert kills >= 10, f"only {kills} kills landed"
    before_final, _ = stored(store)
    assert len(before_final) < N  # the kills really interrupted the walk
    final = start(cfg, db, "--once")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert "hackernews: ok" in out
    ids, rolled = stored(store)
    assert set(ids) == expected and len(ids) == N and rolled == N


@pytest.mark.slow
def test_sigterm_finishes_the_write_and_exits_cleanly(setup):
    srv, cfg, db, store, expected = setup
    seen = threading.Event()

    def hook(req):
        if len(srv.requests) >= 5:
            seen.set()

    srv.on_request = hook
    proc = start(cfg, db)  # the daemon, not --once
    assert seen.wait(60), "the worker never polled"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    ids, rolled = stored(store)
    assert 0 < len(ids) <= N and rolled == len(ids)
    with store.read() as c:
        lease = c.execute(sa.text("SELECT lease_owner FROM source_health")).scalar()
    assert lease is None  # released on the way out
    assert datetime.now(UTC)  # sanity: the test finished within its time budget
