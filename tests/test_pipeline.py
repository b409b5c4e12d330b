"""Pipeline: the batch path gives what one mention at a time gives; the cleaning shortcut is exact."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

from earful.config import settings_from_dict
from earful.models import Mention
from earful.pipeline import Pipeline, _clean
from earful.text import MAX_CHARS, clean_text

SETTINGS = settings_from_dict(
    {
        "brand": {
            "name": "Acme",
            "terms": ["acme"],
            "handles": ["@acme"],
            "exclude": ["acme corp"],
        },
        "competitors": {"Globex": ["globex"]},
    }
)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def mk(i: int, text: str, **kw) -> Mention:
    base = dict(
        platform="mastodon",
        external_id=f"m{i}",
        url=f"https://example.test/{i}",
        author=f"user{i}",
        text=text,
        created_at=T0,
        fetched_at=T0,
        source="src",
        raw={"id": i},
        author_followers=10 * i,
        thread_id=f"t{i}",
    )
    base.update(kw)
    return Mention(**base)


def test_clean_shortcut_equals_clean_text():
    tricky = [
        "",
        " ",
        "plain acme text",
        " leading",
        "trailing\n",
        "two  spaces",
        "tab\there",
        "nbsp\u00a0here",
        "cr\r\nlf",
        "lone cr\rhere",
        "nul\x00byte",
        "bell\x07 and del\x7f",
        "para\n\npara",
        "three\n\n\nnewlines",
        "surrogate \ud83d alone",
        "emoji \U0001f600 fine",
        "ideographic\u3000space inside",
        "\u3000ideographic at start",
        "ends in em space\u2003",
        "x" * (MAX_CHARS + 5),
        "bidi \u202e kept",
    ]
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\n", "\t", "\r", "\x00", "\x0b", "\u00a0", "\u2003", "\ud800", "é"]
    tricky += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)
    ]
    for text in tricky:
        assert _clean(text) == clean_text(text), repr(text)


def test_enrich_all_equals_enrich_one_at_a_time():
    pipe = Pipeline(SETTINGS)
    batch = [
        mk(1, "@acme my order never arrived, where is it?"),
        mk(2, "nothing to see here"),  # off-topic: dropped
        mk(3, "Love the new globex app  so smooth", lang="en"),
        mk(4, "acme corp press release"),  # excluded: dropped
        mk(5, "acme est vraiment nul aujourd'hui", lang="fr"),  # not English: unscored
        mk(6, " \tacme\r\nsupport   was rude\x00 ", author_followers=None),
    ]
    kept, dropped = pipe.enrich_all(batch)
    one_by_one = [e for e in map(pipe.enrich, batch) if e is not None]
    assert kept == one_by_one and dropped == 2
    assert [m.external_id for m in kept] == ["m1", "m3", "m5", "m6"]
    assert kept[3].text == "acme\nsupport was rude"
    assert kept[2].label == "unscored" and kept[2].compound is None
    for before, after in zip([batch[0], batch[2], batch[4], batch[5]], kept, strict=True):
        # everything the listener filled is carried over unchanged
        for f in ("raw", "source", "fetched_at", "author_followers", "thread_id", "url"):
            assert getattr(after, f) == getattr(before, f)
        assert after.matched in ("Acme", "Globex") and after.intent is not None
        assert after.reason and 0 <= after.priority <= 100


def test_enriched_copy_is_the_dataclasses_replace_result():
    pipe = Pipeline(SETTINGS)
    m = mk(1, "@acme still waiting for my refund, day three")
    e = pipe.enrich(m)
    assert e is not None
    expected = dataclasses.replace(
        m,
        text=e.text,
        matched=e.matched,
        compound=e.compound,
        label=e.label,
        lang=e.lang,
        intent=e.intent,
        needs_reply=e.needs_reply,
        reason=e.reason,
        priority=e.priority,
    )
    assert e == expected and e.raw == m.raw
    assert e.intent == "complaint" and e.needs_reply and e.matched == "Acme"


def test_competitor_complaints_keep_their_intent_but_stay_out_of_the_reply_queue():
    pipe = Pipeline(SETTINGS)
    ours = pipe.enrich(mk(1, "@acme my order never arrived and nobody answers, I need a refund"))
    theirs = pipe.enrich(mk(2, "globex lost my order again and nobody answers, I need a refund"))
    assert ours is not None and theirs is not None
    assert (ours.matched, ours.intent, ours.needs_reply) == ("Acme", "complaint", True)
    assert (theirs.matched, theirs.intent, theirs.needs_reply) == ("Globex", "complaint", False)
    assert "competitor" in (theirs.reason or "")
    batch, dropped = pipe.enrich_all([mk(3, "globex lost my order again, I need a refund")])
    assert dropped == 0 and batch[0].needs_reply is False


def test_source_tags_only_mentions_without_one():
    pipe = Pipeline(SETTINGS)
    bare = dataclasses.replace(mk(1, "acme support never answered"), source=None)
    tagged = dataclasses.replace(mk(2, "acme support never answered"), source="hn-main")
    kept, _ = pipe.enrich_all([bare, tagged], "fallback")
    assert [m.source for m in kept] == ["fallback", "hn-main"]
    assert pipe.enrich(bare, "fallback").source == "fallback"  # type: ignore[union-attr]
    assert pipe.enrich(bare).source is None  # type: ignore[union-attr]
