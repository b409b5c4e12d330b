"""Chart builders are pure: inspect the Vega-Lite spec they produce."""

from __future__ import annotations

import pandas as pd

from earful import charts


def _hours(n: int, tz: str = "Europe/Paris") -> pd.DatetimeIndex:
    return pd.date_range("2026-11-01 00:00", periods=n, freq="h", tz=tz)


def _data(spec: dict) -> list[dict]:
    return next(iter(spec["datasets"].values()))


def test_volume_chart_stacks_by_sentiment_in_display_time():
    df = pd.DataFrame(
        {
            "bucket": list(_hours(2)) * 2,
            "label": ["negative", "negative", "positive", "positive"],
            "n": [3, 4, 5, 6],
        }
    )
    spec = charts.volume_chart(df, hourly=True).to_dict()
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "bar"
    assert enc["y"]["stack"] == "zero" and enc["y"]["aggregate"] == "sum"
    assert enc["color"]["field"] == "label"
    assert enc["color"]["scale"]["domain"] == charts.LABEL_ORDER
    assert enc["x"]["axis"]["format"] == "%d %b %H:%M"
    rows = _data(spec)
    # wall clock of the display zone, no offset for the browser to shift
    assert rows[0]["bucket"].startswith("2026-11-01T00:00:00")
    assert "+" not in rows[0]["bucket"] and not rows[0]["bucket"].endswith("Z")


def test_volume_chart_marks_spikes_with_explanations():
    df = pd.DataFrame({"bucket": list(_hours(3)), "label": "neutral", "n": [1, 9, 1]})
    spikes = pd.DataFrame(
        [
            {
                "at": _hours(3)[1],
                "kind": "volume spike",
                "subject": "Acme",
                "summary": "9 mentions against a usual 1",
                "terms": "outage (5), refund (2)",
                "platforms": "mastodon (6)",
            }
        ]
    )
    spec = charts.volume_chart(df, hourly=False, spikes=spikes).to_dict()
    assert len(spec["layer"]) == 2
    spike = spec["layer"][1]
    marks = [layer["mark"]["type"] for layer in spike["layer"]]
    assert marks == ["rule", "point"]
    tips = {t["field"] for t in spike["layer"][0]["encoding"]["tooltip"]}
    assert {"summary", "terms", "platforms"} <= tips
    assert any(
        r.get("terms") == "outage (5), refund (2)" for ds in spec["datasets"].values() for r in ds
    )


def test_net_sentiment_has_bucket_and_rolling_lines():
    idx = _hours(3)
    df = pd.DataFrame({"bucket": idx, "net": [0.1, -0.2, 0.3], "rolling": [0.1, 0.0, 0.05]})
    spec = charts.net_sentiment_chart(df, hourly=True).to_dict()
    assert spec["mark"]["type"] == "line"
    assert spec["encoding"]["y"]["scale"]["domain"] == [-1, 1]
    series = {r["series"] for r in _data(spec)}
    assert series == {"Per bucket", "7-day rolling"}
    assert len(_data(spec)) == 6


def test_share_of_voice_normalises_and_puts_brand_first():
    df = pd.DataFrame(
        {"bucket": list(_hours(1)) * 3, "matched": ["Globex", "Acme", "Initech"], "n": [1, 2, 3]}
    )
    spec = charts.share_of_voice_chart(df, hourly=False, brand="Acme").to_dict()
    assert spec["encoding"]["y"]["stack"] == "normalize"
    assert spec["encoding"]["color"]["scale"]["domain"] == ["Acme", "Globex", "Initech"]


def test_platform_mix_and_distribution_and_ranked():
    mix = charts.platform_mix_chart(pd.DataFrame({"platform": ["a", "b"], "n": [5, 9]})).to_dict()
    assert mix["encoding"]["y"]["sort"] == "-x"
    dist = charts.sentiment_distribution_chart({"positive": 3, "negative": 1}).to_dict()
    rows = {r["label"]: r for r in _data(dist)}
    assert rows["positive"]["share"] == 0.75 and rows["unscored"]["n"] == 0
    ranked = charts.ranked_bar_chart([("refund", 4), ("late", 2)], title="Top terms").to_dict()
    assert ranked["title"] == "Top terms" and len(_data(ranked)) == 2


def test_empty_frames_still_build():
    empty = pd.DataFrame({"bucket": pd.to_datetime([]).tz_localize("UTC"), "label": [], "n": []})
    assert charts.volume_chart(empty, hourly=True).to_dict()["mark"]["type"] == "bar"
