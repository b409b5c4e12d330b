"""Spike and gap alerts with fixed clocks; webhook delivery against a local receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from earful import alerts
from earful.config import settings_from_dict
from earful.models import Mention
from earful.schema import alerts as alerts_table
from earful.schema import source_health
from tests.localserver import LocalServer, Reply

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
SPIKE = START + timedelta(days=3, hours=10)  # 2026-11-04 10:00
CONFIG = {
    "brand": {"name": "Acme", "terms": ["acme"]},
    "competitors": {"Globex": ["globex"]},
    "alerts": {"k": 3.0, "min_mentions": 10, "baseline": "7d", "cooldown": "6h"},
}


def settings(**alerts_cfg):
    cfg = {**CONFIG, "alerts": {**CONFIG["alerts"], **alerts_cfg}}
    secrets = {"HOOK": alerts_cfg["webhook_url_env"]} if "webhook_url_env" in alerts_cfg else {}
    if secrets:
        cfg["alerts"]["webhook_url_env"] = "HOOK"
    return settings_from_dict(cfg, secrets=secrets)


class Seq:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1
        return self.n


def m(
    seq,
    at,
    text,
    *,
    entity="Acme",
    label="neutral",
    platform="mastodon",
    source="masto",
    engagement=0,
):
    return Mention(
        platform=platform,
        external_id=f"{platform}-{seq()}",
        url=f"https://example.test/{seq.n}",
        author=f"user{seq.n % 17}",
        text=text,
        created_at=at,
        source=source,
        matched=entity,
        label=label,
        compound=-0.6 if label == "negative" else 0.1,
        engagement=engagement,
    )


def baseline(store, seq, *, hours=72, entity="Acme", source="masto"):
    """3-7 mentions an hour, about one in ten negative."""
    batch = []
    for h in range(hours):
        at = START + timedelta(hours=h)
        for i in range(3 + (h * 7) % 5):
            label = "negative" if (h + i) % 10 == 0 else "neutral"
            batch.append(
                m(
                    seq,
                    at + timedelta(minutes=7 * i),
                    f"{entity.lower()} is fine today",
                    entity=entity,
                    label=label,
                    source=source,
                )
            )
    store.save_page("s", "q", batch, None, now=START)


def spike(store, seq, hour, n=40, negative=0.6):
    batch = []
    for i in range(n):
        label = "negative" if i < n * negative else "neutral"
        text = (
            "acme checkout outage again, refund please"
            if label == "negative"
            else "acme checkout slow"
        )
        batch.append(
            m(
                seq,
                hour + timedelta(seconds=60 * i),
                text,
                label=label,
                platform="x" if i % 3 else "bluesky",
                source="xsrc",
                engagement=i,
            )
        )
    batch.append(
        m(
            seq,
            hour + timedelta(minutes=50),
            "acme <script>alert(1)</script> & co",
            label="negative",
            engagement=999,
            source="xsrc",
        )
    )
    store.save_page("s", "q", batch, None, now=hour)


def spikes(rows):
    return [a for a in rows if a["kind"] != "gap"]


@pytest.fixture
def store(any_store):
    return any_store


def test_volume_and_negative_spikes_with_drivers_alert_once(store):
    seq = Seq()
    baseline(store, seq, hours=82)
    spike(store, seq, SPIKE)
    s = settings()
    now = SPIKE + timedelta(minutes=55)
    new = [a for a in alerts.detect(store, s, now) if a["kind"] != "gap"]
    kinds = sorted((a["kind"], a["subject"]) for a in new)
    assert kinds == [("negative_spike", "Acme"), ("volume_spike", "Acme")]
    vol = next(a for a in new if a["kind"] == "volume_spike")
    assert vol["window_start"] == SPIKE and vol["window_end"] == SPIKE + timedelta(hours=1)
    assert vol["value"] == 41
    assert vol["baseline"] < 8 and "usually" in vol["summary"]
    d = vol["details"]
    terms = [t for t, _ in d["top_terms"]]
    assert "checkout" in terms[:3] and "acme" not in terms and "the" not in terms
    assert dict(d["platforms"])["x"] > dict(d["platforms"])["bluesky"] > 0
    assert d["examples"][0]["text"].startswith("acme <script>")
    neg = next(a for a in new if a["kind"] == "negative_spike")
    assert neg["value"] > 0.5 and neg["baseline"] < 0.2
    assert "outage" in [t for t, _ in neg["details"]["top_terms"]]
    # the same run again, and the next hour of the same event: nothing new
    assert alerts.detect(store, s, now) == []
    spike(store, seq, SPIKE + timedelta(hours=1))
    assert spikes(alerts.detect(store, s, SPIKE + timedelta(hours=1, minutes=50))) == []
    # after the cooldown a new event alerts again
    spike(store, seq, SPIKE + timedelta(hours=8))
    later = spikes(alerts.detect(store, s, SPIKE + timedelta(hours=8, minutes=55)))
    assert {a["kind"] for a in later} == {"volume_spike", "negative_spike"}
    assert len(spikes(alerts.list_alerts(store))) == 4
    assert len(spikes(alerts.list_alerts(store, since=SPIKE + timedelta(hours=2)))) == 2
    assert all(a["kind"] == "gap" for a in alerts.list_alerts(store, kind="gap"))


def test_quiet_hours_and_short_history_do_not_alert(store):
    seq = Seq()
    baseline(store, seq, hours=82)
    s = settings()
    assert spikes(alerts.detect(store, s, START + timedelta(hours=82, minutes=30))) == []
    # a spike with only 10 hours of history: not enough to know what is usual
    seq2 = Seq()
    baseline(store, seq2, hours=10, entity="Globex", source="g")
    batch = [
        m(
            seq2,
            START + timedelta(hours=10, minutes=i),
            "globex down",
            entity="Globex",
            label="negative",
        )
        for i in range(40)
    ]
    store.save_page("s", "q", batch, None, now=START)
    found = alerts.detect(store, s, START + timedelta(hours=10, minutes=45))
    assert [a for a in spikes(found) if a["subject"] == "Globex"] == []
    # below min_mentions nothing alerts even against a zero baseline
    s_high = settings(min_mentions=100)
    spike(store, seq, SPIKE)
    assert spikes(alerts.detect(store, s_high, SPIKE + timedelta(minutes=55))) == []


def test_gap_alert_for_a_source_gone_silent(store):
    seq = Seq()
    # one mention every 10 minutes for two days from "masto", then nothing
    batch = [
        m(seq, START + timedelta(minutes=10 * i), "acme ok", source="masto") for i in range(288)
    ]
    batch += [m(seq, START + timedelta(hours=12 * i), "acme ok", source="rare") for i in range(4)]
    store.save_page("s", "q", batch, None, now=START)
    last = START + timedelta(minutes=10 * 287)
    s = settings()
    assert [
        a for a in alerts.detect(store, s, last + timedelta(minutes=40)) if a["kind"] == "gap"
    ] == []
    with store.write() as c:
        c.execute(
            source_health.insert().values(
                source="masto",
                platform="mastodon",
                last_success=last - timedelta(hours=1),
                last_error="HTTP 401: the token was revoked",
                last_error_at=last + timedelta(hours=2),
            )
        )
    now = last + timedelta(hours=3)
    gaps = [a for a in alerts.detect(store, s, now) if a["kind"] == "gap"]
    assert [g["subject"] for g in gaps] == ["masto"]  # "rare" never yields often enough
    g = gaps[0]
    assert g["window_start"] == last and "no mentions for 3h" in g["summary"]
    assert "usually one every 10m" in g["summary"] and "token was revoked" in g["summary"]
    assert [
        a for a in alerts.detect(store, s, now + timedelta(hours=1)) if a["kind"] == "gap"
    ] == []


def test_quiet_nights_are_not_gaps(store):
    seq = Seq()
    batch = []
    for day in range(5):  # busy 08:00-24:00, silent every night
        for i in range(96):
            at = START + timedelta(days=day, hours=8, minutes=10 * i)
            batch.append(m(seq, at, "acme ok", source="daytime"))
    store.save_page("s", "q", batch, None, now=START)
    last = START + timedelta(days=4, hours=23, minutes=50)
    s = settings()
    assert alerts.detect(store, s, last + timedelta(hours=8)) == []  # a normal night
    gaps = alerts.detect(store, s, last + timedelta(hours=13))  # well past a normal night
    assert [g["subject"] for g in gaps] == ["daytime"]


def test_disabled_source_is_not_a_gap(store):
    seq = Seq()
    batch = [
        m(seq, START + timedelta(minutes=10 * i), "acme ok", source="demo") for i in range(100)
    ]
    store.save_page("s", "q", batch, None, now=START)
    s = settings_from_dict(
        {**CONFIG, "sources": [{"platform": "demo", "name": "demo", "enabled": False}]}
    )
    assert alerts.detect(store, s, START + timedelta(days=2)) == []
    s_on = settings_from_dict({**CONFIG, "sources": [{"platform": "demo", "name": "demo"}]})
    assert [a["subject"] for a in alerts.detect(store, s_on, START + timedelta(days=2))] == ["demo"]


# -- delivery --------------------------------------------------------------------
def _two_alerts(store):
    seq = Seq()
    baseline(store, seq, hours=82, source="xsrc")
    spike(store, seq, SPIKE)
    return alerts.detect(store, settings(), SPIKE + timedelta(minutes=55))


def test_deliver_retries_after_a_failure_and_never_posts_twice(sqlite_store):
    stored = _two_alerts(sqlite_store)
    assert len(stored) == 2
    with LocalServer() as srv:
        srv.fault("/hook", "503")
        srv.route("/hook", "ok")
        s = settings(webhook_url_env=f"{srv.url}/hook")
        waits: list[float] = []
        with httpx.Client(timeout=1.0) as c:
            assert (
                alerts.deliver(sqlite_store, s, c, SPIKE + timedelta(hours=1), sleep=waits.append)
                == 2
            )
            assert (
                alerts.deliver(sqlite_store, s, c, SPIKE + timedelta(hours=2), sleep=waits.append)
                == 0
            )
        posted = srv.served("/hook")
        assert len(posted) == 3 and waits == [0.5]
        bodies = [r.json() for r in posted]
        assert bodies[0] == bodies[1]  # the failed one was retried, then the second alert
        assert {b["text"].split(":")[0] for b in bodies[1:]} == {"Volume spike", "Negative spike"}
        for b in bodies:
            assert b["blocks"][0]["type"] == "header"
            flat = str(b["blocks"])
            assert "<script>" not in flat and "&lt;script&gt;" in flat
    rows = alerts.list_alerts(sqlite_store)
    assert all(r["delivered_at"] == SPIKE + timedelta(hours=1) for r in rows)
    assert sorted(r["delivery_attempts"] for r in rows) == [1, 2]


def test_deliver_gives_up_on_4xx_and_on_unknown_outcome(sqlite_store):
    _two_alerts(sqlite_store)
    with LocalServer() as srv:
        srv.script("/hook", Reply(400, "invalid_payload"), Reply(200, "ok", delay=0.6))
        s = settings(webhook_url_env=f"{srv.url}/hook")
        with httpx.Client(timeout=0.2) as c:
            assert alerts.deliver(sqlite_store, s, c, SPIKE, sleep=lambda _: None) == 0
            assert alerts.deliver(sqlite_store, s, c, SPIKE, sleep=lambda _: None) == 0
        assert len(srv.served("/hook")) == 2
    errors = sorted(str(r["delivery_error"]) for r in alerts.list_alerts(sqlite_store))
    assert errors[0].startswith("HTTP 400") and "may have arrived" in errors[1]
    assert all(r["delivered_at"] is None for r in alerts.list_alerts(sqlite_store))


def test_deliver_without_webhook_or_reachable_server(sqlite_store):
    _two_alerts(sqlite_store)
    with httpx.Client() as c:
        assert alerts.deliver(sqlite_store, settings(), c) == 0
    srv = LocalServer().start()
    url = f"{srv.url}/hook"
    srv.stop()
    with httpx.Client(timeout=0.5) as c:
        assert (
            alerts.deliver(
                sqlite_store, settings(webhook_url_env=url), c, SPIKE, tries=2, sleep=lambda _: None
            )
            == 0
        )
    rows = alerts.list_alerts(sqlite_store)
    assert [r["delivery_attempts"] for r in rows] == [2, 2]  # bounded, and left for a later run
    assert all("cannot reach" in r["delivery_error"] for r in rows)


def test_two_workers_deliver_each_alert_once(any_store):
    _two_alerts(any_store)
    with LocalServer() as srv:
        srv.route("/hook", lambda req: Reply(200, "ok", delay=0.05))
        s = settings(webhook_url_env=f"{srv.url}/hook")
        barrier = threading.Barrier(2)
        counts: list[int] = []

        def run() -> None:
            barrier.wait()
            with httpx.Client(timeout=2.0) as c:
                counts.append(alerts.deliver(any_store, s, c, SPIKE, sleep=lambda _: None))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sum(counts) == 2 and len(srv.served("/hook")) == 2


def test_dedupe_key_is_unique_in_the_table(sqlite_store):
    stored = _two_alerts(sqlite_store)
    with pytest.raises(sa.exc.IntegrityError), sqlite_store.write() as c:
        row = {k: v for k, v in stored[0].items() if k != "id"}
        c.execute(alerts_table.insert().values(**row))


def test_cli_lists_alerts_since(tmp_path, sqlite_url):
    from earful.store import Store

    store = Store(sqlite_url)
    store.upgrade()
    _two_alerts(store)
    store.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARFUL_")}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "earful.cli", "--db", sqlite_url, "alerts", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    out = run()
    assert out.returncode == 0, out.stderr
    assert "volume_spike" in out.stdout and "negative_spike" in out.stdout
    assert run("--since", "2030-01-01").stdout.strip() == "no alerts"
    bad = run("--since", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr


def test_housekeeping_wakes_detects_and_delivers(sqlite_store):
    from earful import queue

    seq = Seq()
    baseline(sqlite_store, seq, hours=82, source="xsrc")
    spike(sqlite_store, seq, SPIKE)
    (mid,) = sqlite_store.save_page(
        "s",
        "q",
        [
            Mention(
                platform="x",
                external_id="q1",
                url="",
                author="bob",
                text="acme help?",
                created_at=SPIKE,
                matched="Acme",
                label="neutral",
                needs_reply=True,
                priority=30.0,
            )
        ],
        None,
        now=SPIKE,
    ).inserted_ids
    queue.set_status(
        sqlite_store,
        mid,
        "snoozed",
        actor="sam",
        expected_version=1,
        snoozed_until=SPIKE + timedelta(minutes=30),
        now=SPIKE,
    )
    with LocalServer() as srv:
        srv.route("/hook", "ok")
        s = settings(webhook_url_env=f"{srv.url}/hook")
        with httpx.Client(timeout=1.0) as c:
            lines = alerts.housekeeping(sqlite_store, s, c, SPIKE + timedelta(minutes=55))
            assert alerts.housekeeping(sqlite_store, s, c, SPIKE + timedelta(minutes=56)) == []
        assert len(srv.served("/hook")) == 2
    assert lines[0] == "queue: 1 snoozed item(s) back to open"
    assert sum(line.startswith("alert: ") for line in lines) == 2
    assert lines[-1] == "alerts: 2 delivered to the webhook"
    assert queue.get_item(sqlite_store, mid)["stored_status"] == "open"
