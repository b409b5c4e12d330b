"""Sources: is every configured source working, what can each platform see, and gaps.

Health comes from earful.poller.status_rows (the same rows `earful status`
prints); gap alerts from earful.alerts. Error messages can quote what a server
sent, so everything here is shown as inert text (dataframes, escaped markdown).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from app_pages._common import empty_state, escape_md, get_settings, get_store
from earful import alerts, poller
from earful.models import as_utc, utcnow
from earful.text import display_safe

STATUS_COLOR = {
    "ok": "#15803d",
    "failing": "#b91c1c",
    "rate-limited": "#c2410c",
    "needs credentials": "#c2410c",
    "never polled": "#78716c",
}

settings = get_settings()
store = get_store()
tz = ZoneInfo(settings.dashboard.timezone)


def esc(text: Any) -> str:
    return escape_md(display_safe(str(text if text is not None else ""), 500))


def when(dt: datetime | None) -> str:
    return as_utc(dt).astimezone(tz).strftime("%Y-%m-%d %H:%M") if dt else "-"


def ago(dt: datetime | None, now: datetime) -> str:
    if dt is None:
        return "never"
    s = int((now - as_utc(dt)).total_seconds())
    if s < 0:
        return f"in {_span(-s)}"
    return f"{_span(s)} ago"


def _span(s: int) -> str:
    if s < 90:
        return f"{s}s"
    if s < 5400:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


st.title("Sources")
if not settings.sources:
    empty_state("no_sources")
    st.stop()


@st.fragment(run_every=settings.dashboard.refresh)
def health() -> None:
    now = utcnow()
    rows = poller.status_rows(settings, store, now=now)
    counts = pd.Series([r.get("status") for r in rows]).value_counts()
    with st.container(horizontal=True):
        st.metric("Sources", len(rows))
        st.metric("Working", int(counts.get("ok", 0)))
        st.metric("Failing", int(counts.get("failing", 0)))
        st.metric(
            "Limited or need credentials",
            int(counts.get("rate-limited", 0) + counts.get("needs credentials", 0)),
        )
    table = pd.DataFrame(
        {
            "source": [r.get("name") for r in rows],
            "platform": [r.get("platform") for r in rows],
            "status": [r.get("status") for r in rows],
            "last success": [ago(r.get("last_success"), now) for r in rows],
            "last error": [display_safe(r.get("last_error") or "", 300) for r in rows],
            "items today": [int(r.get("items_today") or 0) for r in rows],
            "items last poll": [int(r.get("items_last_poll") or 0) for r in rows],
            "skipped": [int(r.get("skipped_total") or 0) for r in rows],
            "rate-limited until": [when(r.get("rate_limited_until")) for r in rows],
            "next poll": [ago(r.get("next_poll"), now) for r in rows],
        }
    )
    st.dataframe(
        table.style.map(lambda v: f"color: {STATUS_COLOR.get(v, 'inherit')}", subset=["status"]),
        hide_index=True,
        key="src_table",
        column_config={"last error": st.column_config.TextColumn(width="medium")},
    )
    for r in rows:
        if r.get("status") in ("failing", "needs credentials", "rate-limited"):
            what = r.get("last_error") or r.get("status")
            box = st.error if r.get("status") == "failing" else st.warning
            box(f"**{esc(r.get('name'))}**: {esc(what)}")

    gaps = alerts.list_alerts(store, since=now - timedelta(days=7), kind="gap", limit=20)
    st.subheader("Gap alerts")
    if gaps:
        for a in gaps:
            st.error(
                f"{when(a.get('created_at'))} · {esc(a.get('subject'))}: {esc(a.get('summary'))}"
            )
    else:
        st.caption("No source that usually yields mentions has gone silent in the last 7 days.")

    st.subheader("What each source can and cannot see")
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (str(r.get("platform")), str(r.get("sees") or ""))
        if key in seen or not key[1]:
            continue
        seen.add(key)
        gone = str(r.get("deletions") or "")
        after = f" Deleted posts: {esc(gone)}" if gone else ""
        st.markdown(f"**{esc(key[0])}**: {esc(key[1])}{after}")
    st.caption(
        f"Checked {when(now)} ({settings.dashboard.timezone}); refreshes every "
        f"{int(settings.dashboard.refresh.total_seconds())} s."
    )


health()
