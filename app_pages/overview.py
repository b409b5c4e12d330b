"""Overview (executives): KPI tiles vs the previous period, volume and sentiment trends, spikes,
share of voice and platform mix. Every number comes from the hourly rollup or bounded queue
queries (earful.trends), never from scanning mentions."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from app_pages._common import (
    db_url,
    demo_badge,
    display_tz,
    empty_state,
    fmt_duration,
    get_settings,
    period_picker,
    read,
    source_warnings,
)
from earful import charts
from earful.trends import (
    Kpi,
    bucket_end,
    computed_spikes,
    sentiment_stats,
    share_of_voice,
    to_utc,
)

settings = get_settings()
url = db_url()
brand = settings.brand.name
tz = display_tz(settings)

st.title("Overview")


def _kpis(cur: pd.DataFrame, prev: pd.DataFrame, period) -> list[Kpi]:  # noqa: ANN001
    a, b = sentiment_stats(cur, brand), sentiment_stats(prev, brand)
    frt = read(url, "median_first_response", period.start, period.end)
    frt_prev = read(url, "median_first_response", period.previous.start, period.start)
    return [
        Kpi("Mentions", a["mentions"], b["mentions"], "count", f"Posts that mention {brand}."),
        Kpi("Net sentiment", a["net"], b["net"], "pct", "(positive − negative) / scored mentions."),
        Kpi(
            "Negative",
            a["negative_share"],
            b["negative_share"],
            "share",
            "Share of scored mentions that are negative.",
            inverse=True,
        ),
        Kpi(
            "Complaints",
            read(url, "open_complaints"),
            None,
            "count",
            f"Complaints waiting in the reply queue now; {read(url, 'new_complaints', period.start, period.end):,} "
            f"arrived in this period ({read(url, 'new_complaints', period.previous.start, period.start):,} in the one before).",
            inverse=True,
        ),
        Kpi(
            "First response",
            frt,
            frt_prev,
            "seconds",
            "Median time from a post to its first reply, for first replies made in the period "
            "(the newest 20,000 when there are more).",
            inverse=True,
        ),
        Kpi(
            "Share of voice",
            share_of_voice(cur, brand),
            share_of_voice(prev, brand),
            "share",
            "Brand mentions / all brand and competitor mentions.",
        ),
    ]


def _fmt(k: Kpi) -> tuple[str, str | None]:
    def one(v: float | None) -> str:
        if v is None:
            return "–"
        if k.kind == "count":
            return f"{int(v):,}"
        if k.kind == "seconds":
            return fmt_duration(v)
        if k.kind == "pct":
            return f"{v:+.0%}"
        return f"{v:.0%}"

    d = k.delta
    if d is None:
        return one(k.value), None
    if k.kind == "count":
        return one(k.value), f"{int(d):+,}"
    if k.kind == "seconds":
        return one(k.value), ("+" if d >= 0 else "−") + fmt_duration(abs(d))
    return one(k.value), f"{d * 100:+.1f} pts"


def _spikes(series: pd.DataFrame, period, hourly: bool) -> pd.DataFrame:  # noqa: ANN001
    found = [
        s for s in read(url, "alert_spikes", period.start, period.end) if s.subject in (brand, "")
    ]
    rows = [
        {
            "at": pd.Timestamp(s.at).tz_convert(tz),
            "kind": s.kind.replace("_", " "),
            "subject": s.subject or brand,
            "summary": s.summary,
            "terms": ", ".join(s.terms) or "–",
            "platforms": ", ".join(s.platforms) or "–",
        }
        for s in found
    ]
    if not rows:  # no alerts recorded: mark simple spikes computed from the rollup
        for ts, n, base in computed_spikes(series, brand, window=24 if hourly else 7):
            end = bucket_end(ts, hourly)
            terms = read(
                url,
                "spike_terms",
                to_utc(ts),
                to_utc(end),
                brand,
                exclude=tuple(settings.brand.terms),
            )
            rows.append(
                {
                    "at": ts,
                    "kind": "volume spike",
                    "subject": brand,
                    "summary": f"{n:,} mentions against a usual {base:,.0f}",
                    "terms": ", ".join(terms) or "–",
                    "platforms": ", ".join(
                        read(url, "platform_counts", to_utc(ts), to_utc(end), brand)
                    ),
                }
            )
    return pd.DataFrame(rows, columns=["at", "kind", "subject", "summary", "terms", "platforms"])


@st.fragment(run_every=settings.dashboard.refresh)
def overview() -> None:
    top = st.columns([2, 3])
    period = period_picker("ov_", container=top[0])
    top[1].caption(f"{period.label}, times in {tz.key}. Compared with the period just before.")
    if read(url, "has_demo"):
        demo_badge(True)
    source_warnings(url)
    cur = read(url, "rollup_totals", period.start, period.end)
    prev = read(url, "rollup_totals", period.previous.start, period.start)
    if cur.empty and prev.empty:
        if read(url, "count_mentions") == 0:
            empty_state("no_sources" if not settings.sources else "no_mentions")
        else:
            empty_state("No mentions in this period. Pick a longer period.")
        return
    tiles = st.columns(6)
    for col, k in zip(tiles, _kpis(cur, prev, period), strict=True):
        value, delta = _fmt(k)
        col.metric(
            k.name,
            value,
            delta,
            delta_color="inverse" if k.inverse else "normal",
            help=k.help,
            border=True,
        )

    hourly = period.hourly
    lead = timedelta(days=7)
    series = read(url, "rollup_series", period.start - lead, period.end, tz=tz, hourly=hourly)
    first = pd.Timestamp(period.start).tz_convert(tz)
    if not hourly:
        first = first.normalize()
    mine = series[series["matched"] == brand]
    shown = mine[mine["bucket"] >= first]

    st.subheader("Volume by sentiment")
    vol = shown.groupby(["bucket", "label"], as_index=False)["n"].sum()
    st.altair_chart(
        charts.volume_chart(
            vol, hourly=hourly, spikes=_spikes(series[series["bucket"] >= first], period, hourly)
        ),
        width="stretch",
    )

    st.subheader("Net sentiment")
    wide = mine.pivot_table(
        index="bucket", columns="label", values="n", aggfunc="sum", fill_value=0
    )
    for lab in ("positive", "negative", "neutral"):
        if lab not in wide:
            wide[lab] = 0
    scored = wide["positive"] + wide["negative"] + wide["neutral"]
    diff = wide["positive"] - wide["negative"]
    roll = diff.rolling("7D").sum() / scored.rolling("7D").sum().where(lambda s: s > 0)
    net = pd.DataFrame({"net": diff / scored.where(scored > 0), "rolling": roll}).reset_index()
    st.altair_chart(
        charts.net_sentiment_chart(net[net["bucket"] >= first], hourly=hourly),
        width="stretch",
    )

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Share of voice")
        sov = (
            series[series["bucket"] >= first]
            .groupby(["bucket", "matched"], as_index=False)["n"]
            .sum()
        )
        st.altair_chart(
            charts.share_of_voice_chart(sov, hourly=hourly, brand=brand), width="stretch"
        )
    with right:
        st.subheader("Platform mix")
        mix = cur[cur["matched"] == brand].groupby("platform", as_index=False)["n"].sum()
        st.altair_chart(charts.platform_mix_chart(mix), width="stretch")


overview()
