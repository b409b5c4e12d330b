"""Delivering stored alerts to a Slack-compatible webhook, at most once each.

`slack_payload` turns an alert into Slack-compatible JSON (a plain `text`
fallback plus blocks; strangers' post text escaped so it stays inert).
`deliver` claims an alert (a conditional UPDATE of its attempt counter)
before posting, so two workers never post the same alert; a post whose
outcome is unknown (timeout after sending) is not retried.

The cut is here because this is the only part of alerting that does network
I/O (the `httpx.Client` is passed in) and its own at-most-once bookkeeping on
the `alerts` table; `earful.alerts` decides what to raise and re-exports
`deliver`, `slack_payload` and `MAX_DELIVERY_ATTEMPTS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa

from earful.config import Settings
from earful.models import as_utc, utcnow
from earful.schema import alerts

if TYPE_CHECKING:
    from earful.store import Store

MAX_DELIVERY_ATTEMPTS = 6


def _esc(text: str) -> str:
    """Slack mrkdwn control characters; post text from strangers stays inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


TITLES = {
    "volume_spike": "Volume spike",
    "negative_spike": "Negative spike",
    "gap": "Source gone silent",
}


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible JSON: a plain `text` fallback plus blocks."""
    title = f"{TITLES.get(alert['kind'], alert['kind'])}: {alert['subject']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _esc(alert["summary"])[:2900]}},
    ]
    details = alert.get("details") or {}
    for ex in (details.get("examples") or [])[:3]:
        link = str(ex.get("url") or "")
        who = _esc(f"{ex.get('platform')} · {ex.get('author')}")
        head = f"<{_esc(link)}|{who}>" if link.startswith(("http://", "https://")) else who
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{head}: {_esc(str(ex.get('text') or ''))[:500]}"}
                ],
            }
        )
    return {"text": f"{title}. {alert['summary']}"[:3000], "blocks": blocks}


def deliver(
    store: Store,
    settings: Settings,
    client: httpx.Client,
    now: datetime | None = None,
    *,
    tries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post undelivered alerts to the webhook named by `alerts.webhook_url_env`; return how many were delivered.

    Each alert is tried up to `tries` times per call (backoff 0.5 s, 1 s...) and
    MAX_DELIVERY_ATTEMPTS times in all; 4xx other than 429 is not retried; a
    timeout after sending is recorded and never retried (it may have arrived).
    """
    url = settings.secret(settings.alerts.webhook_url_env)
    if not url:
        return 0
    now = as_utc(now or utcnow())
    a = alerts.c
    with store.read() as conn:
        pending = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(alerts)
                .where(
                    a.delivered_at.is_(None),
                    a.delivery_attempts < MAX_DELIVERY_ATTEMPTS,
                    sa.or_(
                        a.delivery_error.is_(None), sa.not_(a.delivery_error.startswith(SENDING))
                    ),
                )
                .order_by(a.created_at, a.id)
                .limit(50)
            )
        ]
    delivered = 0
    for alert in pending:
        attempts = int(alert["delivery_attempts"])
        for i in range(tries):
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                break
            if not _claim(store, alert["id"], attempts, now):
                break  # someone else delivered it or is trying right now
            attempts += 1
            outcome, error = _post(client, url, slack_payload(alert))
            _record(store, alert["id"], outcome, error, now)
            if outcome == "ok":
                delivered += 1
                break
            if outcome != "retry":
                break
            if i + 1 < tries:
                sleep(0.5 * 2**i)
    return delivered


SENDING = "sending"  # delivery_error while a worker holds the claim


def _claim(store: Store, alert_id: int, attempts: int, now: datetime) -> bool:
    """Take the alert for one attempt: not delivered, nobody sending it, attempts as we saw them.

    A worker that dies while holding the claim leaves it "sending": the post may
    have arrived, so it is not retried (at most once), and the error says so.
    """
    e = alerts.c.delivery_error
    with store.write() as conn:
        res = conn.execute(
            alerts.update()
            .where(
                alerts.c.id == alert_id,
                alerts.c.delivered_at.is_(None),
                alerts.c.delivery_attempts == attempts,
                sa.or_(e.is_(None), sa.not_(e.startswith(SENDING))),
            )
            .values(
                delivery_attempts=attempts + 1,
                delivery_error=f"{SENDING} since {now:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
        return res.rowcount == 1


def _post(client: httpx.Client, url: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    """'ok', 'retry' (not delivered, worth another try), 'give_up' or 'unknown'."""
    try:
        resp = client.post(url, json=payload)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return "retry", f"cannot reach the webhook: {exc.__class__.__name__}"
    except httpx.HTTPError as exc:
        return (
            "unknown",
            f"{exc.__class__.__name__} after sending; not retried (it may have arrived)",
        )
    if 200 <= resp.status_code < 300:
        return "ok", None
    brief = f"HTTP {resp.status_code}: {resp.text[:200]}"
    if resp.status_code == 429 or resp.status_code >= 500:
        return "retry", brief
    return "give_up", brief


def _record(store: Store, alert_id: int, outcome: str, error: str | None, now: datetime) -> None:
    values: dict[str, Any] = {"delivery_error": error}
    if outcome == "ok":
        values["delivered_at"] = now
    elif outcome in ("give_up", "unknown"):
        values["delivery_attempts"] = MAX_DELIVERY_ATTEMPTS  # stop trying
    with store.write() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(values))
