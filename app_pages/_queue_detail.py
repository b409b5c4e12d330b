"""Reply queue detail pane: one item, its context, and the action widgets.

Not a page (the leading underscore keeps it out of st.navigation); app_pages/queue.py
calls `detail` for the open item. Everything it needs arrives in a `Desk` built on
every run, because this module is imported once per process while the page script
reruns. Buttons act in callbacks with the version the agent was looking at, so a
colleague's change in between is reported instead of being overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import streamlit as st

from app_pages._common import escape_md, safe_url, show_post_text
from earful import conversation, replies
from earful import queue as q
from earful.config import Settings
from earful.models import QUEUE_STATUSES, as_utc, utcnow
from earful.store import Store
from earful.text import display_safe

ss = st.session_state


@dataclass(frozen=True)
class Desk:
    """The page's resources for this run: store, settings, who is acting, team, timezone."""

    store: Store
    settings: Settings
    user: str | None
    team: tuple[str, ...]
    tz: ZoneInfo

    def when(self, dt: datetime | None) -> str:
        return as_utc(dt).astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z") if dt else "-"


def esc(text: Any) -> str:
    """Plain text safe inside st.markdown/st.warning (markdown metacharacters escaped)."""
    return escape_md(display_safe(str(text if text is not None else ""), 300))


def span(seconds: float) -> str:
    s = int(abs(seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    return f"{d}d {h}h" if d else (f"{h}h {m:02d}m" if h else f"{m}m")


def sla_text(item: dict[str, Any]) -> tuple[str, bool]:
    left, breached = item.get("sla_seconds_left"), item.get("sla_breached")
    if left is None:
        return "no target", False
    return (f"breached {span(left)} ago" if breached else f"{span(left)} left"), bool(breached)


LABEL_ID = re.compile(r"#(\d+)")  # every "Open item" label starts with "#id"


def item_id(choice: int | str | None) -> int | None:
    """The item id behind an "Open item" choice: the id itself, or a label starting "#id".

    A select box's choice travels as its option's label and is mapped back through
    the previous run's labels. Ours change (the SLA countdown each minute; "#id" alone
    once the item leaves the listed page), and a label that no longer matches comes back
    as the raw string (streamlit/streamlit#11268): int() on it failed, so the pane after
    a stale write, or any second action after such a change, was an exception.
    """
    if isinstance(choice, str):
        found = LABEL_ID.fullmatch(choice.split(" ", 1)[0])
        return int(found.group(1)) if found else None
    return None if choice is None else int(choice)


# -- actions (callbacks: they run before the rerun, with what the agent saw) --------------
def act(desk: Desk, kind: str, mid: int, version: int, actor: str) -> None:
    store = desk.store
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
                until = datetime.combine(d, t, tzinfo=desk.tz)
            q.set_status(
                store, mid, status, actor=actor, expected_version=version, snoozed_until=until
            )
            msg = f"Status set to {status}" + (f" until {desk.when(until)}." if until else ".")
        else:
            raise ValueError(kind)
        ss["q_flash"] = ("success", msg)
    except q.StaleItem as exc:
        ss["q_flash"] = ("warning", stale_message(desk, exc.current))
    except q.ItemNotFound:
        ss["q_flash"] = ("warning", GONE)
    except ValueError as exc:  # refused transitions, bad snooze times
        ss["q_flash"] = ("error", f"Not saved: {exc}")


# An item purged under the agent's eyes (earful.purge: its post was deleted at the source).
GONE = (
    "Not saved: this item is no longer in the queue. Its post was deleted or removed "
    "at the source, so Earful purged it."
)


def stale_message(desk: Desk, cur: dict[str, Any]) -> str:
    return (
        f"Not saved: this item was changed by {cur.get('updated_by') or 'someone'} "
        f"at {desk.when(cur.get('updated_at'))}. It is now {cur.get('status')}, assigned to "
        f"{cur.get('assignee') or 'nobody'}. The current state is shown below; try again."
    )


def add_note(desk: Desk, mid: int, actor: str) -> None:
    text = (ss.get(f"q_note_{mid}") or "").strip()
    if not text:
        ss["q_flash"] = ("error", "The note is empty.")
        return
    try:
        q.add_note(desk.store, mid, text, actor=actor)
    except q.ItemNotFound:
        ss["q_flash"] = ("warning", GONE)
        return
    ss[f"q_note_{mid}"] = ""
    ss["q_flash"] = ("success", "Note added.")


def use_canned(desk: Desk, mid: int, canned: dict[str, str], author: str) -> None:
    name = ss.get(f"q_canned_{mid}")
    if name in canned:
        ss[f"q_draft_{mid}"] = q.render_canned(
            canned[name], author=author, brand=desk.settings.brand.name
        )


@st.cache_resource
def http_client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(20.0, connect=10.0))


def send(desk: Desk, mid: int, target: int, actor: str) -> None:
    """Send the draft of item `mid` as a reply to `target` (the conversation's newest post)."""
    text = (ss.get(f"q_draft_{mid}") or "").strip()
    try:
        row = replies.send_reply(
            desk.store, desk.settings, target, text, actor=actor, client=http_client()
        )
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


def manual(desk: Desk, mid: int, target: int, actor: str) -> None:
    url = (ss.get(f"q_manual_url_{mid}") or "").strip()
    if not safe_url(url):
        ss["q_flash"] = ("error", "Paste the link to your reply (http or https).")
        return
    try:
        replies.record_manual_reply(
            desk.store, target, url, actor=actor, text=ss.get(f"q_draft_{mid}") or ""
        )
    except (replies.ReplyRefused, ValueError) as exc:
        ss["q_flash"] = ("error", f"Not recorded: {exc}")
        return
    ss[f"q_manual_url_{mid}"] = ""
    ss["q_flash"] = ("success", "Recorded as replied manually.")


def verify(desk: Desk, reply_id: int, sent: bool, actor: str) -> None:
    try:
        replies.verify_reply(desk.store, reply_id, sent=sent, actor=actor)
    except replies.ReplyRefused as exc:
        ss["q_flash"] = ("error", str(exc))
        return
    ss["q_flash"] = ("success", "Marked as posted." if sent else "Marked as not posted.")


# -- the detail pane -----------------------------------------------------------------------
def detail(desk: Desk, mid: int, now: datetime) -> None:
    item = q.get_item(desk.store, mid, now=now, settings=desk.settings)
    if item is None:
        st.info(
            "This item is no longer in the queue (its post may have been deleted at the source)."
        )
        return
    version = int(item["version"])
    sla, breached = sla_text(item)
    when = desk.when
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
        context(desk, item)
    with right:
        actions(desk, item, mid, version)


def context(desk: Desk, item: dict[str, Any]) -> None:
    store, when = desk.store, desk.when
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


def actions(desk: Desk, item: dict[str, Any], mid: int, version: int) -> None:
    user = desk.user
    if not user:
        st.info("Choose your name in the sidebar (**Who are you?**) to act on this item.")
        return
    st.markdown(f"**Acting as** {esc(user)}")
    args = (mid, version, user)
    st.button("Assign to me", key=f"q_me_{mid}", on_click=act, args=(desk, "assign_me", *args))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        others = ["", *desk.team]
        cur = item.get("assignee") or ""
        st.selectbox(
            "Assign to",
            others if cur in others else [*others, cur],
            key=f"q_assignee_{mid}",
            index=None,
            format_func=lambda n: n or "nobody",
        )
        st.button("Assign", key=f"q_assign_{mid}", on_click=act, args=(desk, "assign", *args))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Set status", QUEUE_STATUSES, key=f"q_status_{mid}")
        st.button("Apply", key=f"q_apply_{mid}", on_click=act, args=(desk, "status", *args))
    if ss.get(f"q_status_{mid}") == "snoozed":
        later = (utcnow() + timedelta(hours=4)).astimezone(desk.tz)
        st.date_input("Snooze until (date)", value=later.date(), key=f"q_snooze_d_{mid}")
        st.time_input(
            "Snooze until (time)",
            value=time(later.hour, 0),
            key=f"q_snooze_t_{mid}",
        )
    st.text_area("Internal note", key=f"q_note_{mid}", height=80)
    st.button("Add note", key=f"q_addnote_{mid}", on_click=add_note, args=(desk, mid, user))
    st.divider()
    canned = dict(q.canned_replies(desk.store, desk.settings))
    st.selectbox(
        "Canned reply",
        list(canned),
        index=None,
        key=f"q_canned_{mid}",
        on_change=use_canned,
        args=(desk, mid, canned, item.get("author") or ""),
        placeholder="Insert a canned reply",
    )
    st.text_area("Reply", key=f"q_draft_{mid}", height=120)
    target = int(item.get("latest_mention_id") or mid)
    ok, reason = replies.can_send(desk.settings, item)
    if ok:
        st.button(
            "Send reply",
            key=f"q_send_{mid}",
            type="primary",
            on_click=send,
            args=(desk, mid, target, user),
        )
    else:
        st.caption(esc(reason))
    st.text_input("Link to your reply (replied manually)", key=f"q_manual_url_{mid}")
    st.button(
        "Mark replied manually",
        key=f"q_manual_{mid}",
        on_click=manual,
        args=(desk, mid, target, user),
    )
    sent_replies(desk, mid, target)


def sent_replies(desk: Desk, mid: int, target: int) -> None:
    """Replies already made (sent, manual, failed) and any whose outcome must be verified."""
    store = desk.store
    rows = replies.replies_for(store, target) + (
        replies.replies_for(store, mid) if target != mid else []
    )
    for r in rows:
        line = f"{r['status']} · {r['actor']} · {desk.when(r['created_at'])}"
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
                        args=(desk, int(r["id"]), sent, desk.user),
                    )
        else:
            st.caption(esc(f"Reply {line}" + (f" · {r['error']}" if r.get("error") else "")))
