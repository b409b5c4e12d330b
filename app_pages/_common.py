"""Shared page helpers: cached settings and store, who-am-I, period picker, inert post text.

Pages are UI only. They read through the functions here (cached by their
arguments, the database URL included) which call `earful.queries`; nothing here
writes SQL. Widget keys are prefixed per page (`ov_`, `mn_`, `q_`, `src_`);
the shared sidebar keys start with `earful_`.

Post text written by strangers is always shown inert: `st.text` / `st.code`
or escaped markdown, never `unsafe_allow_html`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from earful.config import DEFAULT_CONFIG, ConfigError, Settings, load_settings
from earful.store import Store, database_url
from earful.text import display_safe

USER_KEY = "earful_user"  # the chosen "who am I" name, kept for the session
_OTHER = "Someone else…"
POST_DISPLAY_LIMIT = 20_000  # characters of one post shown in a detail pane


# -- settings and store ----------------------------------------------------------
def config_path() -> str:
    return os.environ.get("EARFUL_CONFIG") or DEFAULT_CONFIG


def db_url() -> str:
    """The database URL: `EARFUL_DATABASE_URL` or the embedded default."""
    return database_url()


@st.cache_resource(show_spinner=False)
def _settings(path: str, mtime: float) -> Settings:
    return load_settings(path)


def get_settings() -> Settings:
    """The validated config (reloaded when the file changes); stops the page on a config error."""
    path = config_path()
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        mtime = 0.0
    try:
        return _settings(path, mtime)
    except ConfigError as exc:
        st.error(f"Earful cannot read its configuration: {exc}")
        st.caption("Fix the file (see earful.toml for a documented example) and reload the page.")
        st.stop()
        raise  # unreachable: st.stop() raises


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    store = Store(url)
    store.upgrade()  # idempotent; a fresh database gets its tables
    return store


def get_store(url: str | None = None) -> Store:
    """One Store (engine pool) per database URL for the whole Streamlit process."""
    return _store(url or db_url())


def refresh_interval(settings: Settings | None = None) -> timedelta:
    """How often fragments re-read the data (settings.dashboard.refresh, default 60 s)."""
    return (settings or get_settings()).dashboard.refresh


def display_tz(settings: Settings | None = None) -> ZoneInfo:
    return ZoneInfo((settings or get_settings()).dashboard.timezone)


# -- who am I ---------------------------------------------------------------------
def _auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def current_user() -> str | None:
    """Who is acting: `st.user` under Streamlit auth, else the name chosen in the sidebar."""
    if _auth_configured():
        try:
            if st.user.is_logged_in:
                return str(st.user.get("name") or st.user.get("email") or "signed-in user")
        except Exception:  # pragma: no cover - auth misconfigured
            return None
        return None
    name = st.session_state.get(USER_KEY)
    return str(name) if name else None


def user_picker(settings: Settings | None = None) -> str | None:
    """The sidebar "who am I" widget (dashboard.py renders it once per run)."""
    with st.sidebar:
        if _auth_configured():
            if st.user.is_logged_in:
                st.caption(f"Signed in as **{escape_md(current_user() or '')}**")
                st.button("Log out", key="earful_logout", on_click=st.logout)
            else:
                st.button("Log in", key="earful_login", on_click=st.login)
            return current_user()
        team = list((settings or get_settings()).dashboard.team)
        chosen = st.session_state.get(USER_KEY)
        options = [*team, _OTHER]
        index = options.index(chosen) if chosen in team else (len(team) if chosen else None)
        pick = st.selectbox(
            "Who are you?",
            options,
            index=index,
            key="earful_who_pick",
            placeholder="Choose your name",
            help="Recorded with every queue action. Configure names in [dashboard] team.",
        )
        if pick == _OTHER:
            typed = st.text_input(
                "Your name", value=chosen if chosen not in team else "", key="earful_who_typed"
            )
            st.session_state[USER_KEY] = typed.strip() or None
        elif pick:
            st.session_state[USER_KEY] = pick
    return current_user()


# -- periods ------------------------------------------------------------------------
PERIODS: dict[str, timedelta] = {
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Last 90 days": timedelta(days=90),
    "Last 365 days": timedelta(days=365),
}


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open UTC range [start, end) on hour boundaries, plus the one before it."""

    label: str
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def previous(self) -> Period:
        return Period(f"before {self.label.lower()}", self.start - self.length, self.start)

    @property
    def hourly(self) -> bool:
        """Short ranges chart by hour, longer ones by day."""
        return self.length <= timedelta(days=7)


def hour_ceiling(now: datetime) -> datetime:
    """The end of the current hour (stable for an hour: good cache keys)."""
    now = now.astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def period_for(label: str, now: datetime | None = None) -> Period:
    end = hour_ceiling(now or datetime.now(UTC))
    return Period(label, end - PERIODS[label], end)


def period_picker(prefix: str, *, default: str = "Last 30 days", container: Any = None) -> Period:
    """A period select box (key `<prefix>period`), plus a custom date range."""
    box = container or st
    labels = [*PERIODS, "Custom range"]
    label = box.selectbox("Period", labels, index=labels.index(default), key=f"{prefix}period")
    if label != "Custom range":
        return period_for(label)
    tz = display_tz()
    today = datetime.now(tz).date()
    picked = box.date_input(
        "From – to (inclusive)",
        value=(today - timedelta(days=6), today),
        key=f"{prefix}range",
        max_value=today,
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.caption("Pick an end date.")
        st.stop()
    a, b = picked
    start = datetime(a.year, a.month, a.day, tzinfo=tz).astimezone(UTC)
    end = (datetime(b.year, b.month, b.day, tzinfo=tz) + timedelta(days=1)).astimezone(UTC)
    return Period(f"{a:%d %b %Y} – {b:%d %b %Y}", start, end)


# -- inert text ----------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def escape_md(text: str) -> str:
    """Markdown-escape a stranger's text so links, images, HTML and LaTeX stay literal."""
    return _MD_SPECIAL.sub(r"\\\1", display_safe(text).replace("\n", " "))


def show_post_text(text: str | None, *, limit: int = POST_DISPLAY_LIMIT) -> None:
    """A post body as inert plain text (bidi controls removed, very long bodies cut)."""
    body = display_safe(text, limit=limit)
    if not body:
        st.caption("(no text)")
        return
    st.text(body)
    if text and len(text) > limit:
        st.caption(f"Showing the first {limit:,} of {len(text):,} characters.")


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are ever made clickable."""
    if url and re.match(r"^https?://[^\s\"'<>]+$", url, re.I):
        return url
    return None


# -- banners and empty states ---------------------------------------------------------
_EMPTY = {
    "no_sources": (
        "No sources are configured yet. Add `[[sources]]` entries to earful.toml "
        "(see the documented example), then run `earful listen`. "
        "To look around first, run `earful demo` to load demo data."
    ),
    "no_mentions": (
        "No mentions yet. Run `earful demo` to load demo data, or `earful listen` to start "
        "polling your sources; this page refreshes by itself."
    ),
    "no_match": "No mentions match these filters. Widen the period or clear a filter.",
    "source_failing": "A source is failing: open the **Sources** page to see why.",
    "no_queue": "Nothing waits for a reply. New complaints and questions appear here by themselves.",
}


def empty_state(kind: str, detail: str | None = None) -> None:
    """An empty state that says what to do next (`no_sources`, `no_mentions`, `no_match`, ...)."""
    msg = _EMPTY.get(kind, kind)
    st.info(msg + (f"\n\n{detail}" if detail else ""), icon=":material/lightbulb:")


def demo_badge(present: bool) -> None:
    """A clear label when demo rows are shown (mentions.is_demo)."""
    if present:
        st.warning(
            "**Demo data**: some or all mentions shown are synthetic (from `earful demo`).",
            icon=":material/science:",
        )


def source_warnings(url: str, limit: int = 5) -> None:
    """One warning naming every failing source (from source_health), pointing at Sources."""
    failing = read(url, "failing_sources")
    if len(failing) == 1:
        name, err = failing[0]
        text = f"Source **{escape_md(name)}** is failing ({escape_md(err[:160]) or 'no detail'}). "
    elif failing:
        named = ", ".join(
            f"**{escape_md(name)}** ({escape_md(err.split(' (', 1)[0][:80]) or 'no detail'})"
            for name, err in failing[:limit]
        )
        more = f" and {len(failing) - limit} more" if len(failing) > limit else ""
        text = f"{len(failing)} sources are failing: {named}{more}. "
    else:
        return
    st.warning(text + "Open the **Sources** page to see why.", icon=":material/sensors_off:")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


__all__ = [
    "PERIODS",
    "Period",
    "USER_KEY",
    "config_path",
    "current_user",
    "db_url",
    "demo_badge",
    "display_tz",
    "empty_state",
    "escape_md",
    "fmt_duration",
    "get_settings",
    "get_store",
    "hour_ceiling",
    "period_for",
    "period_picker",
    "refresh_interval",
    "safe_url",
    "show_post_text",
    "source_warnings",
    "user_picker",
]


# -- cached readers (keyed by the database URL and every argument) --------------------
# Short TTLs: the worker writes while people look; fragments re-read on `run_every`.
_TTL = 30


@st.cache_data(ttl=_TTL, show_spinner=False, max_entries=256)
def read(url: str, fn_name: str, *args: Any, **kwargs: Any) -> Any:
    """Call `earful.queries.<fn_name>` or `earful.trends.<fn_name>` with the store, cached."""
    from earful import queries, trends

    fn = getattr(queries, fn_name, None) or getattr(trends, fn_name)
    return fn(get_store(url), *args, **kwargs)
