"""Pure chart builders: a small DataFrame in, an `alt.Chart` out (tests read `to_dict()`).

Time columns arrive as tz-aware timestamps in the display timezone; they are
handed to Vega-Lite as wall-clock times (timezone dropped) so the browser shows
the configured zone's clock, not its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

LABEL_ORDER = ["negative", "neutral", "positive", "unscored"]
LABEL_COLORS = ["#DC2626", "#A8A29E", "#16A34A", "#E7E5E4"]
_LABEL_SCALE = alt.Scale(domain=LABEL_ORDER, range=LABEL_COLORS)


def _wall(s: pd.Series) -> pd.Series:
    """tz-aware -> naive wall-clock time in that zone (what the chart should print)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_localize(None)
    return pd.to_datetime(s)


def _time_axis(hourly: bool) -> alt.X:
    fmt = "%d %b %H:%M" if hourly else "%d %b"
    return alt.X("bucket:T", title=None, axis=alt.Axis(format=fmt, labelOverlap=True))


def volume_chart(
    df: pd.DataFrame, *, hourly: bool, spikes: pd.DataFrame | None = None
) -> alt.Chart | alt.LayerChart:
    """Mentions per bucket stacked by sentiment (columns bucket, label, n), spikes marked."""
    data = df.assign(bucket=_wall(df["bucket"])) if not df.empty else df
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=_time_axis(hourly),
            y=alt.Y("sum(n):Q", title="Mentions", stack="zero"),
            color=alt.Color("label:N", scale=_LABEL_SCALE, title="Sentiment"),
            order=alt.Order("label_order:Q"),
            tooltip=[
                alt.Tooltip(
                    "bucket:T", title="When", format="%d %b %Y %H:%M" if hourly else "%d %b %Y"
                ),
                alt.Tooltip("label:N", title="Sentiment"),
                alt.Tooltip("sum(n):Q", title="Mentions", format=","),
            ],
        )
        .transform_calculate(label_order=f"indexof({LABEL_ORDER!r}, datum.label)")
    )
    if spikes is None or spikes.empty:
        return bars.properties(height=280)
    return alt.LayerChart(layer=[bars, spike_layer(spikes)], height=280)


def spike_layer(spikes: pd.DataFrame) -> alt.LayerChart:
    """Vertical markers at spike times, explained on hover (columns at, kind, subject, summary, terms, platforms)."""
    data = spikes.assign(at=_wall(spikes["at"]))
    base = alt.Chart(data).encode(
        x=alt.X("at:T"),
        tooltip=[
            alt.Tooltip("at:T", title="Spike at", format="%d %b %Y %H:%M"),
            alt.Tooltip("kind:N", title="Kind"),
            alt.Tooltip("subject:N", title="About"),
            alt.Tooltip("summary:N", title="What happened"),
            alt.Tooltip("terms:N", title="Top terms"),
            alt.Tooltip("platforms:N", title="Platforms"),
        ],
    )
    rule = base.mark_rule(color="#7C2D12", strokeDash=[4, 3], strokeWidth=2)
    flag = base.mark_point(shape="triangle-down", size=140, filled=True, color="#7C2D12").encode(
        y=alt.value(6)
    )
    return alt.LayerChart(layer=[rule, flag])


def net_sentiment_chart(df: pd.DataFrame, *, hourly: bool) -> alt.Chart:
    """Net sentiment per bucket and its 7-day rolling line (columns bucket, net, rolling)."""
    data = df.assign(bucket=_wall(df["bucket"])) if not df.empty else df
    long = data.melt(
        id_vars=["bucket"], value_vars=["net", "rolling"], var_name="series", value_name="value"
    )
    long["series"] = long["series"].map({"net": "Per bucket", "rolling": "7-day rolling"})
    return (
        alt.Chart(long)
        .mark_line(interpolate="monotone")
        .encode(
            x=_time_axis(hourly),
            y=alt.Y(
                "value:Q",
                title="Net sentiment",
                scale=alt.Scale(domain=[-1, 1]),
                axis=alt.Axis(format="+.0%"),
            ),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(
                    domain=["Per bucket", "7-day rolling"], range=["#D6D3D1", "#C2410C"]
                ),
            ),
            strokeWidth=alt.StrokeWidth(
                "series:N",
                scale=alt.Scale(domain=["Per bucket", "7-day rolling"], range=[1.5, 3]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip(
                    "bucket:T", title="When", format="%d %b %Y %H:%M" if hourly else "%d %b %Y"
                ),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("value:Q", title="Net sentiment", format="+.1%"),
            ],
        )
        .properties(height=220)
    )


def share_of_voice_chart(df: pd.DataFrame, *, hourly: bool, brand: str) -> alt.Chart:
    """Each entity's share of all mentions per bucket (columns bucket, matched, n), stacked to 100%."""
    data = df.assign(bucket=_wall(df["bucket"])) if not df.empty else df
    names = sorted(data["matched"].unique()) if not data.empty else []
    domain = [brand, *[n for n in names if n != brand]]
    palette = ["#C2410C", "#1D4ED8", "#7C3AED", "#0F766E", "#A16207", "#BE185D", "#475569"]
    return (
        alt.Chart(data)
        .mark_area()
        .encode(
            x=_time_axis(hourly),
            y=alt.Y("n:Q", stack="normalize", title="Share of voice", axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "matched:N",
                title=None,
                scale=alt.Scale(domain=domain, range=palette[: len(domain)]),
            ),
            tooltip=[
                alt.Tooltip(
                    "bucket:T", title="When", format="%d %b %Y %H:%M" if hourly else "%d %b %Y"
                ),
                alt.Tooltip("matched:N", title="Who"),
                alt.Tooltip("n:Q", title="Mentions", format=","),
            ],
        )
        .properties(height=220)
    )


def platform_mix_chart(df: pd.DataFrame) -> alt.Chart:
    """Mentions per platform (columns platform, n), largest first."""
    return (
        alt.Chart(df)
        .mark_bar(color="#C2410C")
        .encode(
            x=alt.X("n:Q", title="Mentions"),
            y=alt.Y("platform:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            tooltip=[
                alt.Tooltip("platform:N", title="Platform"),
                alt.Tooltip("n:Q", title="Mentions", format=","),
            ],
        )
        .properties(height=max(80, 30 * len(df)))
    )


def sentiment_distribution_chart(counts: dict[str, int]) -> alt.Chart:
    """Counts per sentiment label as a single stacked bar with shares on hover."""
    total = sum(counts.values()) or 1
    df = pd.DataFrame(
        [
            {"label": k, "n": counts.get(k, 0), "share": counts.get(k, 0) / total}
            for k in LABEL_ORDER
        ]
    )
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("n:Q", stack="normalize", title=None, axis=alt.Axis(format=".0%")),
            color=alt.Color("label:N", scale=_LABEL_SCALE, title=None, legend=None),
            order=alt.Order("label_order:Q"),
            tooltip=[
                alt.Tooltip("label:N", title="Sentiment"),
                alt.Tooltip("n:Q", title="Mentions", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .transform_calculate(label_order=f"indexof({LABEL_ORDER!r}, datum.label)")
        .properties(height=60)
    )


def ranked_bar_chart(items: Sequence[tuple[str, int]], *, title: str) -> alt.Chart:
    """Top terms / hashtags / links: (name, count) pairs as a sorted bar chart."""
    df = pd.DataFrame(list(items), columns=["name", "n"])
    return (
        alt.Chart(df)
        .mark_bar(color="#78716C")
        .encode(
            x=alt.X("n:Q", title="Mentions"),
            y=alt.Y(
                "name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)
            ),
            tooltip=[alt.Tooltip("name:N", title=title), alt.Tooltip("n:Q", title="Mentions")],
        )
        .properties(height=max(80, 24 * len(df)), title=title)
    )


__all__ = [
    "LABEL_ORDER",
    "net_sentiment_chart",
    "platform_mix_chart",
    "ranked_bar_chart",
    "sentiment_distribution_chart",
    "share_of_voice_chart",
    "spike_layer",
    "volume_chart",
]
