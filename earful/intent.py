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

Layout: `earful.intent_signals` holds the signal table and cue word lists,
`earful.intent_regex` reads off each regex what every match needs,
`earful.intent_scan` finds the signals that fire on a text; this module turns
them and VADER's scores into intent, reason and priority.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from earful import intent_scan
from earful.intent_scan import _FIRED_AT, _fired, _scan, normalise, signals
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


_KINDS_COMPLAINT = ("wait", "problem", "nohelp", "sarcasm", "emotion")
_KINDS = (*_KINDS_COMPLAINT, "help", "question", "praise", "target")


# How VADER's compound moves the complaint evidence, and where a complaint starts.
NEG_TONE = 1.0
POS_TONE = 0.3
COMPLAINT_AT = 0.8
ASKS_ABOUT_PROBLEM = 0.2
# VADER's share of negative words (0..1) adds to the mood: a mixed post ("love the
# app but the update broke login") has a positive compound and a real neg share.
NEG_SHARE = 1.0

# Cues that say something is wrong but not that a service failed ("not", "still",
# "problem", "why ..."): with a target they count, without one they are venting.
_VAGUE = frozenset(
    ("says not/never/no", "still unresolved", "problem reported", "asks why it went wrong")
)
# Cues only a product or service has: they are their own target.
_AIMED = frozenset(
    (
        "on hold",
        "asks where their order is",
        "money problem",
        "about the staff",
        "about their own order",
        "will leave",
        "sarcastic thanks",
        "complaint hashtag",
    )
)

INTENT_BASE = {"complaint": 40.0, "question": 28.0, "praise": 4.0, "other": 0.0}

_CACHE_SIZE = intent_scan._CACHE_SIZE  # entries per cache of this module too


def _label(s: Signal, matched: str) -> str:
    """The signal's label; "{m}" stands for the matched words (at most five)."""
    return s.label.replace("{m}", " ".join(matched.split()[:5])) if "{m}" in s.label else s.label


def _by_weight(fired: tuple[Signal, str]) -> float:
    return -fired[0].weight


_REASON_KINDS = {
    "complaint": frozenset(_KINDS_COMPLAINT),
    "question": frozenset(("help", "question")),
}
_PRAISE_KINDS = frozenset(("praise",))
_NO_SIGNAL = {"praise": "positive tone", "other": "no problem or request"}


def _labels(intent: str, fired: list[tuple[Signal, str]]) -> list[str]:
    """Up to four labels of the signals that explain intent, strongest first."""
    kinds = _REASON_KINDS.get(intent, _PRAISE_KINDS)
    labels: list[str] = []
    seen = ""
    # Strongest first; stable for equal weights. Filtered first: sorting fewer costs less.
    for s, m in sorted([f for f in fired if f[0].kind in kinds], key=_by_weight):
        lab = _label(s, m) if "{m}" in s.label else s.label
        if lab not in seen:  # "on hold" after "on hold 2 hours"
            labels.append(lab)
            seen += lab + "|"
            if len(labels) == 4:
                break
    return labels


def _reason(intent: str, fired: list[tuple[Signal, str]], compound: float | None) -> str:
    """ "complaint: <up to four signals, strongest first>" and the tone when it helped."""
    labels = _labels(intent, fired)
    if intent == "complaint" and compound is not None and compound <= -0.05:
        labels.append(f"negative tone ({compound:+.2f})")
    if not labels:
        labels.append(_NO_SIGNAL.get(intent, "tone"))
    return intent + ": " + "; ".join(labels)


class _Reasons(dict[str, str]):
    """intent -> its reason without VADER's tone, made when first asked for;
    "tone" -> a complaint's reason up to its negative tone.

    Keeps what `_scan` returned (ints and strings) and the fired list only until
    the first reason is made (another is rebuilt from the scan): a full cache of
    these leaves little for the cyclic GC to walk."""

    __slots__ = ("scan", "fired")

    def __init__(
        self, scan: tuple[int, int, dict[int, str]], fired: list[tuple[Signal, str]] | None
    ) -> None:
        self.scan = scan
        self.fired = fired

    def __missing__(self, intent: str) -> str:
        fired = self.fired if self.fired is not None else _fired(*self.scan)
        self.fired = None
        if intent == "tone":
            labels = _labels("complaint", fired)
            reason = "complaint: " + "".join(lab + "; " for lab in labels)
        else:
            reason = _reason(intent, fired, None)
        self[intent] = reason
        return reason


# What `_decide` needs from the fired signals, VADER's scores aside: (failure, mood
# before tone, failure or vague, has a target, asks, sarcasm, praise, help or
# question fired); a profile adds the reasons.
_Numbers = tuple[float, float, bool, bool, bool, bool, bool, bool]
_Profile = tuple[float, float, bool, bool, bool, bool, bool, bool, _Reasons]


def _profile(fired: list[tuple[Signal, str]]) -> _Numbers:
    weight = dict.fromkeys(_KINDS, 0.0)
    vague = 0.0
    targeted = help_or_question = False
    for s, _ in fired:  # one pass; the sums add up in the same order as ever
        kind = s.kind
        weight[kind] += s.weight
        if s.label in _VAGUE:
            vague += s.weight
        if kind == "target" or s.label in _AIMED:
            targeted = True
        if kind == "help" or kind == "question":
            help_or_question = True
    return _numbers(weight, vague, targeted, help_or_question)


def _numbers(
    weight: dict[str, float], vague: float, targeted: bool, help_or_question: bool
) -> _Numbers:
    """A profile's numbers from its summed weights (shared by both ways of summing)."""
    failure = weight["wait"] + weight["problem"] + weight["nohelp"] + weight["sarcasm"] - vague
    return (
        failure,
        weight["emotion"] + vague,
        bool(failure or vague),
        targeted,
        weight["question"] + weight["help"] > 0,
        bool(weight["sarcasm"]),
        bool(weight["praise"]),
        help_or_question,
    )


# What one fired signal adds to a profile: (kind, weight, vague, aimed at a target,
# help or question, (signal, "")), by guard position and for each value of `extra`.
_Facts = tuple[str, float, bool, bool, bool, tuple[Signal, str]]


def _facts(s: Signal) -> _Facts:
    return (
        s.kind,
        s.weight,
        s.label in _VAGUE,
        s.kind == "target" or s.label in _AIMED,
        s.kind in ("help", "question"),
        (s, ""),
    )


_FACTS_AT = {g: _facts(item[0]) for g, item in _FIRED_AT.items()}
_EXTRA_FACTS = [
    tuple(_facts(s) for s, _ in _fired(0, extra, {})) for extra in range(32)
]  # fmt: skip


def _profile_scan(found: int, extra: int, matched: dict[int, str]) -> _Profile:
    """`_profile(_fired(found, extra, matched))` and its reasons in one pass over the
    bits (the sums add up in the same order), for a profile not cached yet."""
    weight = dict.fromkeys(_KINDS, 0.0)
    vague = 0.0
    targeted = help_or_question = False
    fired: list[tuple[Signal, str]] = []
    rest = found
    facts: list[_Facts] = []
    while rest:  # guard positions grow with the signal's index, as in `_fired`
        bit = rest & -rest
        rest ^= bit
        g = bit.bit_length() - 1
        facts.append(_FACTS_AT[g])
        fired.append((_FACTS_AT[g][5][0], matched[g]) if g in matched else _FACTS_AT[g][5])
    extras = _EXTRA_FACTS[extra]
    fired += [f[5] for f in extras]
    for kind, w, is_vague, aimed, asks, _ in (*facts, *extras):
        weight[kind] += w
        if is_vague:
            vague += w
        if aimed:
            targeted = True
        if asks:
            help_or_question = True
    numbers = _numbers(weight, vague, targeted, help_or_question)
    return (*numbers, _Reasons((found, extra, matched), fired))


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
