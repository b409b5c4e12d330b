"""What the fired signals add up to, VADER's scores aside: profiles and reasons.

Part of `earful.intent`. A profile is what `_decide` needs from the fired
signals (complaint evidence by kind, the mood before tone, whether the post has
a target, asks, is sarcastic, praises) with the reasons built lazily
(`_Reasons`): "complaint: <up to four signals, strongest first>". `_profile`
sums a fired list; `_profile_scan` gives the same numbers straight from
`earful.intent_scan._scan`'s bits, which is what `classify` caches per set of
fired signals. Which cues are vague (`_VAGUE`) or aimed at a service
(`_AIMED`) is decided here.

The cut is here because none of this depends on VADER's scores or on the
post's reach and age, so it is computed once per set of fired signals:
`earful.intent` keeps the thresholds, the decision that adds the tone and
the priority, and the profile cache (`_PROFILES`) that `_reset_caches` empties.
"""

from __future__ import annotations

from earful.intent_scan import _FIRED_AT, _fired
from earful.intent_signals import Signal

_KINDS_COMPLAINT = ("wait", "problem", "nohelp", "sarcasm", "emotion")
_KINDS = (*_KINDS_COMPLAINT, "help", "question", "praise", "target")

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
