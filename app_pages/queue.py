"""Reply queue (support agents): what needs a reply, highest priority first, and acting on it.

Every action goes through earful.queue / earful.replies, which check the item's
version and write the audit log. Buttons act in callbacks with the version the
agent was looking at, so a colleague's change in between is reported
("changed by NAME at TIME") instead of being overwritten. Post text, author
names and links come from strangers and are only ever shown as inert text.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import streamlit as st

from app_pages._common import (
    current_user,
    demo_badge,
    empty_state,
    escape_md,
    get_settings,
    get_store,
    safe_url,
    show_post_text,
)
from earful import conversation, replies
from earful import queue as q
from earful.models import INTENTS, QUEUE_STATUSES, as_utc, utcnow
from earful.text import display_safe

PAGE_SIZE = 25
PLATFORMS = ("mastodon", "bluesky", "reddit", "hackernews", "lemmy", "rss", "x", "demo")
ANYONE = "Anyone"

settings = get_settings()
store = get_store()
user = current_user()
tz = ZoneInfo(settings.dashboard.timezone)
ss = st.session_state


def esc(text: Any) -> str:
    """Plain text safe inside st.markdown/st.warning (markdown metacharacters escaped)."""
    return escape_md(display_safe(str(text if text is not None else ""), 300))


def when(dt: datetime | None) -> str:
    return as_utc(dt).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if dt else "-"


def span(seconds: float) -> str:
    s = int(abs(seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    return f"{d}d {h}h" if d else (f"{h}h {m:02d}m" if h else f"{m}m")


def sla_text(item: dict[str, Any]) -> tuple[str, bool]:
    left, breached = item.get("sla_seconds_left"), item.get("sla_breached")
    if left is None:
        return "no target", False
    return (f"breached {span(left)} ago" if breached else f"{span(left)} left"), bool(breached)


# -- actions (callbacks: they run before the rerun, with what the agent saw) --------------
def act(kind: str, mid: int, version: int, actor: str) -> None:
    try:
        if kind == "assign_me":
            q.assign(store, mid, actor, actor=actor, expected_version=version)
            msg = "Assigned to you."
        elif kind == "assign":
            who = ss.get(f"q_assignee_{mid}") or None
            q.assign(store, mid, who, actor=actor, expected_version=version)
            msg = f"Assigned to {who}." if who else "Unassigned."
        elif kind == "status":
            status = ss[f"q_status_{mid}"]
            until = None
            if status == "snoozed":
                d, t = ss.get(f"q_snooze_d_{mid}"), ss.get(f"q_snooze_t_{mid}")
                if d is None or t is None:
                    raise ValueError("pick the date and time to snooze until")
                until = datetime.combine(d, t, tzinfo=tz)
            q.set_status(
                store, mid, status, actor=actor, expected_version=version, snoozed_until=until
            )
            msg = f"Status set to {status}" + (f" until {when(until)}." if until else ".")
        else:
            raise ValueError(kind)
        ss["q_flash"] = ("success", msg)
    except q.StaleItem as exc:
        ss["q_flash"] = ("warning", stale_message(exc.current))
    except ValueError as exc:  # refused transitions, bad snooze times
        ss["q_flash"] = ("error", f"Not saved: {exc}")


def stale_message(cur: dict[str, Any]) -> str:
    return (
        f"Not saved: this item was changed by {cur.get('updated_by') or 'someone'} "
        f"at {when(cur.get('updated_at'))}. It is now {cur.get('status')}, assigned to "
        f"{cur.get('assignee') or 'nobody'}. The current state is shown below; try again."
    )


def add_note(mid: int, actor: str) -> None:
    text = (ss.get(f"q_note_{mid}") or "").strip()
    if not text:
        ss["q_flash"] = ("error", "The note is empty.")
        return
    q.add_note(store, mid, text, actor=actor)
    ss[f"q_note_{mid}"] = ""
    ss["q_flash"] = ("success", "Note added.")


def use_canned(mid: int, canned: dict[str, str], author: str) -> None:
    name = ss.get(f"q_canned_{mid}")
    if name in canned:
        ss[f"q_draft_{mid}"] = q.render_canned(
            canned[name], author=author, brand=settings.brand.name
        )


@st.cache_resource
def http_client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(20.0, connect=10.0))


def send(mid: int, target: int, actor: str) -> None:
    """Send the draft of item `mid` as a reply to `target` (the conversation's newest post)."""
    text = (ss.get(f"q_draft_{mid}") or "").strip()
    try:
        row = replies.send_reply(store, settings, target, text, actor=actor, client=http_client())
    except replies.ReplyRefused as exc:  # nothing stored, nothing sent
        ss["q_flash"] = ("error", f"Not sent: {exc}")
        return
    status = row.get("status")
    if status == "sent":
        ss[f"q_draft_{mid}"] = ""
        ss["q_flash"] = ("success", "Reply sent.")
    elif status == "unknown":
        ss["q_flash"] = ("warning", "Outcome unknown: verify on the platform before retrying.")
    else:
        ss["q_flash"] = ("error", f"Not sent: {row.get('error') or status}")


def manual(mid: int, target: int, actor: str) -> None:
    url = (ss.get(f"q_manual_url_{mid}") or "").strip()
    if not safe_url(url):
        ss["q_flash"] = ("error", "Paste the link to your reply (http or https).")
        return
    try:
        replies.record_manual_reply(
            store, target, url, actor=actor, text=ss.get(f"q_draft_{mid}") or ""
        )
    except (replies.ReplyRefused, ValueError) as exc:
        ss["q_flash"] = ("error", f"Not recorded: {exc}")
        return
    ss[f"q_manual_url_{mid}"] = ""
    ss["q_flash"] = ("success", "Recorded as replied manually.")


def verify(reply_id: int, sent: bool, actor: str) -> None:
    try:
        replies.verify_reply(store, reply_id, sent=sent, actor=actor)
    except replies.ReplyRefused as exc:
        ss["q_flash"] = ("error", str(exc))
        return
    ss["q_flash"] = ("success", "Marked as posted." if sent else "Marked as not posted.")


# -- the page ------------------------------------------------------------------------------
st.title("Reply queue")
team = list(dict.fromkeys([*settings.dashboard.team, *([user] if user else [])]))


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
    if not ids and ss.get("q_sel") is None:
        return
    label = {r["id"]: f"#{r['id']} · {r['platform']} · {r['intent']} · {r['SLA']}" for r in rows}
    if ss.get("q_sel") not in (None, *ids):
        ids.append(int(ss["q_sel"]))  # keep the open item even when it left this page
    st.selectbox(
        "Open item", ids, key="q_sel", format_func=lambda i: label.get(i, f"#{i}"), index=None
    )
    if ss.get("q_sel") is not None:
        detail(int(ss["q_sel"]), now)


def detail(mid: int, now: datetime) -> None:
    item = q.get_item(store, mid, now=now, settings=settings)
    if item is None:
        st.info("This item is no longer in the queue.")
        return
    version = int(item["version"])
    sla, breached = sla_text(item)
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"#{mid} · {item['platform']} · {item.get('intent') or 'other'}")
        if breached:
            st.badge("SLA breached", icon=":material/alarm:", color="red")
        st.caption(
            f"Priority {float(item.get('priority') or 0):.0f} ({item.get('band')}) · first "
            f"response: {sla} · status {item['status']} · assigned to "
            f"{esc(item.get('assignee') or 'nobody')} · last change by "
            f"{esc(item.get('updated_by') or '-')} at {when(item.get('updated_at'))}"
        )
        followers = item.get("author_followers")
        st.text(
            f"{display_safe(item.get('author'), 200)}"
            + (f" · {int(followers):,} followers" if followers is not None else "")
            + f" · posted {when(item.get('posted_at'))}"
        )
        show_post_text(item.get("text") or "")
        url = safe_url(item.get("url"))
        if url:
            st.link_button("Open the original post", url, icon=":material/open_in_new:")
        context(item)
    with right:
        actions(item, mid, version)


def context(item: dict[str, Any]) -> None:
    thread = conversation.thread_for(store, item["mention_id"])
    history = conversation.author_history(store, item["mention_id"])
    for title, rows in (("Thread", thread), ("Earlier posts by this author", history)):
        with st.expander(f"{title} ({len(rows)})"):
            if rows:
                st.dataframe(
                    pd.DataFrame(
                        {
                            "posted": [when(r.get("created_at")) for r in rows],
                            "author": [display_safe(r.get("author"), 60) for r in rows],
                            "post": [display_safe(r.get("text"), 300) for r in rows],
                        }
                    ),
                    hide_index=True,
                )
            else:
                st.caption("Nothing else known.")
    notes = q.notes_for(store, item["mention_id"])
    with st.expander(f"Notes and history ({len(notes)} notes)"):
        for n in notes:
            st.text(f"{when(n.get('at'))} · {n.get('author')}: {n.get('text')}")
        audit = q.audit_for(store, item["mention_id"])
        if audit:
            st.dataframe(
                pd.DataFrame(
                    {
                        "when": [when(a.get("at")) for a in audit],
                        "who": [str(a.get("actor")) for a in audit],
                        "what": [str(a.get("action")) for a in audit],
                    }
                ),
                hide_index=True,
            )


def actions(item: dict[str, Any], mid: int, version: int) -> None:
    if not user:
        st.info("Choose your name in the sidebar (**Who are you?**) to act on this item.")
        return
    st.markdown(f"**Acting as** {esc(user)}")
    args = (mid, version, user)
    st.button("Assign to me", key=f"q_me_{mid}", on_click=act, args=("assign_me", *args))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        others = ["", *team]
        cur = item.get("assignee") or ""
        st.selectbox(
            "Assign to",
            others if cur in others else [*others, cur],
            key=f"q_assignee_{mid}",
            index=None,
            format_func=lambda n: n or "nobody",
        )
        st.button("Assign", key=f"q_assign_{mid}", on_click=act, args=("assign", *args))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Set status", QUEUE_STATUSES, key=f"q_status_{mid}")
        st.button("Apply", key=f"q_apply_{mid}", on_click=act, args=("status", *args))
    if ss.get(f"q_status_{mid}") == "snoozed":
        later = (utcnow() + timedelta(hours=4)).astimezone(tz)
        st.date_input("Snooze until (date)", value=later.date(), key=f"q_snooze_d_{mid}")
        st.time_input(
            "Snooze until (time)",
            value=time(later.hour, 0),
            key=f"q_snooze_t_{mid}",
        )
    st.text_area("Internal note", key=f"q_note_{mid}", height=80)
    st.button("Add note", key=f"q_addnote_{mid}", on_click=add_note, args=(mid, user))
    st.divider()
    canned = dict(q.canned_replies(store, settings))
    st.selectbox(
        "Canned reply",
        list(canned),
        index=None,
        key=f"q_canned_{mid}",
        on_change=use_canned,
        args=(mid, canned, item.get("author") or ""),
        placeholder="Insert a canned reply",
    )
    st.text_area("Reply", key=f"q_draft_{mid}", height=120)
    target = int(item.get("latest_mention_id") or mid)
    ok, reason = replies.can_send(settings, item)
    if ok:
        st.button(
            "Send reply",
            key=f"q_send_{mid}",
            type="primary",
            on_click=send,
            args=(mid, target, user),
        )
    else:
        st.caption(esc(reason))
    st.text_input("Link to your reply (replied manually)", key=f"q_manual_url_{mid}")
    st.button(
        "Mark replied manually", key=f"q_manual_{mid}", on_click=manual, args=(mid, target, user)
    )
    sent_replies(mid, target)


def sent_replies(mid: int, target: int) -> None:
    """Replies already made (sent, manual, failed) and any whose outcome must be verified."""
    rows = replies.replies_for(store, target) + (
        replies.replies_for(store, mid) if target != mid else []
    )
    for r in rows:
        line = f"{r['status']} · {r['actor']} · {when(r['created_at'])}"
        if r.get("reply_url"):
            line += f" · {r['reply_url']}"
        if r["status"] in ("unknown", "intent"):
            st.warning(esc(f"Reply {line}: outcome unknown, verify on the platform."))
            with st.container(horizontal=True):
                for label, sent in (("It was posted", True), ("It was not posted", False)):
                    st.button(
                        label,
                        key=f"q_verify_{r['id']}_{sent}",
                        on_click=verify,
                        args=(int(r["id"]), sent, user),
                    )
        else:
            st.caption(esc(f"Reply {line}" + (f" · {r['error']}" if r.get("error") else "")))


queue_view()
