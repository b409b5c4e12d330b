"""Reply queue (support agents): what needs a reply, highest priority first, and acting on it.

This page holds the filters, the list and the selection; the open item's detail
pane and its action widgets live in app_pages/_queue_detail.py. Every action goes
through earful.queue / earful.replies, which check the item's version and write
the audit log, so a colleague's change in between is reported ("changed by NAME
at TIME") instead of being overwritten. Post text, author names and links come
from strangers and are only ever shown as inert text.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from app_pages._common import current_user, demo_badge, empty_state, get_settings, get_store
from app_pages._queue_detail import Desk, detail, esc, item_id, sla_text
from earful import queue as q
from earful.models import INTENTS, QUEUE_STATUSES, utcnow
from earful.text import display_safe

PAGE_SIZE = 25
PLATFORMS = ("mastodon", "bluesky", "reddit", "hackernews", "lemmy", "rss", "x", "demo")
ANYONE = "Anyone"

settings = get_settings()
store = get_store()
user = current_user()
tz = ZoneInfo(settings.dashboard.timezone)
ss = st.session_state

# -- the page ------------------------------------------------------------------------------
st.title("Reply queue")
team = list(dict.fromkeys([*settings.dashboard.team, *([user] if user else [])]))
desk = Desk(store, settings, user, tuple(team), tz)


def first_page() -> None:
    ss["q_f_page"] = 1


with st.container(horizontal=True):
    reset = {"on_change": first_page}
    st.multiselect("Status", QUEUE_STATUSES, default=["open"], key="q_f_status", **reset)
    st.selectbox("Assignee", [ANYONE, *team], key="q_f_assignee", **reset)
    st.selectbox("Platform", ["All", *PLATFORMS], key="q_f_platform", **reset)
    st.selectbox("Intent", ["All", *INTENTS], key="q_f_intent", **reset)
    st.toggle("Breached SLA only", key="q_f_breached", **reset)
    st.number_input("Page", min_value=1, step=1, key="q_f_page")


def pick_row() -> None:
    """A click on a table row opens that item (rows as the agent saw them)."""
    rows = ss["q_table"].selection.rows
    shown = ss.get("q_ids") or []
    if rows and rows[0] < len(shown):
        ss["q_sel"] = shown[rows[0]]


def open_id() -> int | None:
    """The open item's id; a choice handed back as a label is stored back as its id
    before the box is drawn, which also re-syncs the box to this run's label."""
    sel = ss.get("q_sel")
    if isinstance(sel, str):
        ss["q_sel"] = item_id(sel)
    return item_id(sel)


def flash() -> None:
    kind, msg = ss.pop("q_flash", (None, None))
    if kind:
        getattr(st, kind)(esc(msg))


@st.fragment(run_every=settings.dashboard.refresh)
def queue_view() -> None:
    now = utcnow()
    page = int(ss.get("q_f_page") or 1)
    pick = ss.get("q_f_platform", "All")
    intent = ss.get("q_f_intent", "All")
    who = ss.get("q_f_assignee", ANYONE)
    items = q.list_queue(
        store,
        statuses=tuple(ss.get("q_f_status") or QUEUE_STATUSES),
        assignee=None if who == ANYONE else who,
        platform=None if pick == "All" else pick,
        intent=None if intent == "All" else intent,
        breached_only=bool(ss.get("q_f_breached")),
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
        now=now,
        settings=settings,
    )
    more, items = len(items) > PAGE_SIZE, items[:PAGE_SIZE]
    demo_badge(any(str(it.get("external_id", "")).startswith("demo:") for it in items))
    flash()
    if not items:
        filtered = (
            ss.get("q_f_breached")
            or page > 1
            or any(ss.get(k, "All") not in ("All", ANYONE) for k in ("q_f_platform", "q_f_intent"))
        )
        empty_state("no_match" if filtered else "no_queue")
    rows = []
    for it in items:
        sla, breached = sla_text(it)
        rows.append(
            {
                "id": it["mention_id"],
                "priority": round(float(it.get("priority") or 0)),
                "SLA": ("⚠ " if breached else "") + sla,
                "status": it["status"],
                "assignee": it.get("assignee") or "",
                "platform": it["platform"],
                "intent": it.get("intent") or "",
                "author": display_safe(it.get("author"), 60),
                "post": display_safe(it.get("text"), 140).replace("\n", " "),
            }
        )
    ids = [int(it["mention_id"]) for it in items]
    if rows:
        ss["q_ids"] = ids
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            key="q_table",
            on_select=pick_row,
            selection_mode="single-row",
        )
        st.caption(
            f"Page {page}"
            + (" · more on the next page" if more else "")
            + " · click a row to open it"
        )
    sel = open_id()
    if not ids and sel is None:
        return
    label = {r["id"]: f"#{r['id']} · {r['platform']} · {r['intent']} · {r['SLA']}" for r in rows}
    if sel is not None and sel not in ids:
        ids.append(sel)  # keep the open item even when it left this page
    st.selectbox(
        "Open item", ids, key="q_sel", format_func=lambda i: label.get(i, f"#{i}"), index=None
    )
    if ss.get("q_sel") is not None:
        detail(desk, int(ss["q_sel"]), now)


queue_view()
