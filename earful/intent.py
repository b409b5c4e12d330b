"""Intent, needs-reply and priority for one mention, beyond VADER.

VADER scores tone, not intent: "thanks for losing my bag" is positive to it
and "on hold for two hours" is neutral. Here general customer-service
language (requests for help, waits and delays, things lost, broken or
cancelled, money problems, outages, negated help, sarcastic thanks, questions
to the brand, praise) is matched with compiled regexes, and VADER's compound
is one input among them. The word lists are ordinary English knowledge of how
customers write to support accounts; none is derived from a benchmark set.

A complaint is a negative evaluation aimed at an organisation, its product,
service or staff (Olshtain & Weinbach; Preotiuc-Pietro et al. 2019), so
`_decide` separates target-directed service failures from personal venting:
a post with a target (the brand's account via `addressed`, "you/your", a
product/service noun, or a cue only a service has such as "on hold" or
"refund") adds all its evidence, bad mood included; a post without one counts
only named service failures, and its bad mood, negations and vague trouble
words ("problem", "still", "why ...") count for nothing.

How it stays cheap enough to run on every mention: single-word cues are
lookups, and a phrase regex runs only when one of its key words occurs in the
text (`Signal.keys`, checked against 4-letter stems) and a stricter condition
read off the regex holds; tokens, chunks of text and the decision's parts that
do not depend on VADER's scores are cached (see "How signals() stays cheap"
in `earful.intent_scan`).
Measured by bench/triage.py against plain VADER in the same run (CPU time,
on a busy machine, hence ranges): on bench/ingest.py's posts classify costs
about 11-12 us per post (0.31-0.33 of VADER's cost) when every post carries a
chunk never seen before (its "(#n)"), about 8-9 us (0.24) on posts seen
before; on the airline tweets about 26-35 us at first sight with empty caches
(0.64-0.82) and 14-15 us once seen (0.34). At first sight most of the extra
goes to new chunks and tokens, then to new profiles and plans. It runs on top
of the Scorer's VADER pass.

Thresholds (`COMPLAINT_AT`, `NEG_TONE`, `POS_TONE`, `NEG_SHARE`,
`ASKS_ABOUT_PROBLEM`) and the choice to give an untargeted bad mood no weight
were checked against aggregate bench figures (never individual rows), so the
bench numbers are somewhat optimistic for other data.

Layout: `earful.intent_signals` holds the signal table and cue word lists
(its larger half in `earful.intent_failures`, the `Signal` type and its
compilation in `earful.intent_compile`); `earful.intent_regex` reads off each
regex what every match needs (the syntax tree in `earful.intent_parse`, the
conditions and their simplification in `earful.intent_conditions`);
`earful.intent_scan` finds the signals that fire on a text (the bit layout in
`earful.intent_bits`); `earful.intent_profile` sums them into a profile and
its reasons. This module turns a profile and VADER's scores into intent,
reason and priority; the cut is here because that is the part that changes
with every post's scores, reach and age, and the public face the pipeline
and the queue import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from earful import intent_scan
from earful.intent_profile import _Numbers, _Profile, _profile, _profile_scan
from earful.intent_profile import _reason as _reason
from earful.intent_scan import _scan, normalise, signals
from earful.intent_signals import NEGATION, QUESTION_FORM, SHOUTING, SIGNALS, TO_YOU, Signal
from earful.models import as_utc

__all__ = [
    "NEGATION",
    "QUESTION_FORM",
    "SHOUTING",
    "SIGNALS",
    "TO_YOU",
    "Signal",
    "Triage",
    "band_for",
    "classify",
    "normalise",
    "signals",
]


@dataclass(frozen=True, slots=True)
class Triage:
    intent: str  # complaint | question | praise | other
    needs_reply: bool
    reason: str
    priority: float  # 0..100, see band_for


# How VADER's compound moves the complaint evidence, and where a complaint starts.
NEG_TONE = 1.0
POS_TONE = 0.3
COMPLAINT_AT = 0.8
ASKS_ABOUT_PROBLEM = 0.2
# VADER's share of negative words (0..1) adds to the mood: a mixed post ("love the
# app but the update broke login") has a positive compound and a real neg share.
NEG_SHARE = 1.0

INTENT_BASE = {"complaint": 40.0, "question": 28.0, "praise": 4.0, "other": 0.0}

_CACHE_SIZE = intent_scan._CACHE_SIZE  # entries per cache of this module too


def _decide(
    fired: list[tuple[Signal, str]],
    compound: float | None,
    addressed: bool = False,
    neg: float | None = None,
) -> tuple[str, float]:
    """(intent, complaint evidence) from the fired signals and VADER's scores.

    A complaint is a negative evaluation aimed at someone: an organisation, its
    product, service or staff. A post with a target (the brand's account, "you",
    a product/service noun, or a cue that only a service has, like "on hold")
    adds up all its evidence, bad mood included. Without a target, a bad mood,
    negations and vague trouble words are personal venting and do not count;
    only named service failures do.
    """
    return _decide_profile(_profile(fired), compound, addressed, neg)


def _decide_profile(
    p: _Numbers, compound: float | None, addressed: bool, neg: float | None
) -> tuple[str, float]:
    failure, mood, failure_or_vague, targeted, asks, sarcasm, praise = p[:7]
    comp = compound if compound is not None else 0.0
    targeted = addressed or targeted
    mood = mood - comp * (NEG_TONE if comp < 0 else POS_TONE)
    if neg is not None:
        mood += NEG_SHARE * neg
    if targeted:
        evidence = failure + mood
        if failure_or_vague and asks:
            evidence += ASKS_ABOUT_PROBLEM  # asking the brand about a named problem
    else:
        evidence = failure + min(mood, 0.0)  # a positive tone still counts against
    if sarcasm or evidence >= COMPLAINT_AT or (targeted and comp <= -0.3 and asks):
        return "complaint", evidence
    if asks:
        return "question", evidence
    if comp >= 0.05 or praise:
        return "praise", evidence
    return "other", evidence


_PROFILES: dict[object, _Profile] = {}


def _reset_caches() -> None:
    """Forget every cached chunk, token, plan and profile (for benchmarks of first sight)."""
    intent_scan._reset_caches()
    _PROFILES.clear()


class _Tone(dict[float, str]):
    def __missing__(self, compound: float) -> str:
        if len(self) >= _CACHE_SIZE:
            self.clear()
        tone = self[compound] = f"negative tone ({compound:+.2f})"
        return tone


_TONE = _Tone()


def _recency(created_at: datetime | None, now: datetime | None) -> float:
    """0..10: 10 for a fresh post, halving every 6 hours; 5 when the age is unknown."""
    if created_at is None or now is None:
        return 5.0
    age_h = max(0.0, (as_utc(now) - as_utc(created_at)).total_seconds() / 3600.0)
    return 10.0 * 0.5 ** (age_h / 6.0)


def _reach(followers: int | None) -> float:
    """0..15 from the author's followers on a log scale (100k followers gives 15)."""
    if not followers or followers <= 0:
        return 0.0
    return min(15.0, 3.0 * math.log10(1 + followers))


def classify(
    text: str,
    compound: float | None,
    *,
    addressed: bool = False,
    followers: int | None = None,
    created_at: datetime | None = None,
    now: datetime | None = None,
    neg: float | None = None,
) -> Triage:
    """Intent, needs-reply, a human reason and a 0..100 priority for one text.

    `compound` (and optionally VADER's `neg` share) should come from the
    brand-masked text; `addressed` is whether the post names the brand's own
    account; `followers`, `created_at` and `now` feed reach and recency.
    """
    found, extra, matched = _scan(text)
    key: object = found << 5 | extra
    if matched:
        key = (key, *matched.values())
    p = _PROFILES.get(key)
    if p is None:
        if len(_PROFILES) >= _CACHE_SIZE:
            _PROFILES.clear()
        p = _PROFILES[key] = _profile_scan(found, extra, matched)
    # _decide_profile, inline (this runs on every mention).
    failure, mood, failure_or_vague, targeted, asks, sarcasm, praise, help_or_q, reasons = p
    comp = compound if compound is not None else 0.0
    targeted = addressed or targeted
    mood = mood - comp * (NEG_TONE if comp < 0 else POS_TONE)
    if neg is not None:
        mood += NEG_SHARE * neg
    if targeted:
        evidence = failure + mood
        if failure_or_vague and asks:
            evidence += ASKS_ABOUT_PROBLEM
    else:
        evidence = failure + min(mood, 0.0)
    if sarcasm or evidence >= COMPLAINT_AT or (targeted and comp <= -0.3 and asks):
        intent = "complaint"
        needs_reply = True
        priority = INTENT_BASE[intent] + min(15.0, 5.0 * max(evidence, 0.0))
        if compound is not None and compound <= -0.05:
            reason = reasons["tone"] + _TONE[compound]
        else:
            reason = reasons[intent]
    else:
        intent = "question" if asks else "praise" if comp >= 0.05 or praise else "other"
        needs_reply = intent == "question" or (addressed and help_or_q)
        priority = INTENT_BASE[intent]
        reason = reasons[intent]
    negativity = max(0.0, -comp, 2.0 * neg if neg is not None else 0.0)
    priority += 15.0 * min(negativity, 1.0)
    priority += (12.0 if needs_reply else 3.0) if addressed else 0.0
    priority += (_reach(followers) if followers else 0.0) + (
        5.0 if created_at is None or now is None else _recency(created_at, now)
    )
    priority = max(0.0, min(100.0, priority))
    return Triage(intent, needs_reply, reason, round(priority, 1))


def band_for(priority: float) -> str:
    """urgent (>= 80), high (>= 50), normal (>= 20) or low."""
    if priority >= 80:
        return "urgent"
    if priority >= 50:
        return "high"
    if priority >= 20:
        return "normal"
    return "low"
