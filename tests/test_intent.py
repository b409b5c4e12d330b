"""Intent, needs-reply, reason and priority (earful.intent).

Every example text here is made up for these tests.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from earful import intent, intent_regex, intent_scan, intent_signals, triage
from earful.intent import SIGNALS, Signal, Triage, band_for, classify, normalise, signals
from earful.sentiment import Scorer, analyzer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def vader(text: str) -> float:
    return analyzer().polarity_scores(text)["compound"]


def labels(text: str) -> set[str]:
    return {s.label for s, _ in signals(text)}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # requests for help
        ("I need help with my router setup", "asks for help"),
        ("can someone from billing look at this", "asks for help"),
        ("please fix the login page", "asks for help"),
        ("DM me when you can", "asks for help"),
        # waiting and delays
        ("on hold for two hours now", "{m}"),
        ("waited 45 minutes at the counter", "{m}"),
        ("3 hrs later and nobody came", "{m}"),
        ("still waiting for the engineer", "still waiting"),
        ("this is the 3rd day without internet", "repeated attempts"),
        ("second time this week the parcel is late", "repeated attempts"),
        ("train delayed again", "delay"),
        ("where is my parcel", "asks where their order is"),
        ("been stuck in the queue at the desk", "queues"),
        # things lost, broken, cancelled, money
        ("you lost my suitcase", "lost or missing"),
        ("screen arrived cracked", "broken or damaged"),
        ("the blender came damaged", "broken or damaged"),
        ("they cancelled my booking", "cancelled"),
        ("I was charged twice for one order", "money problem"),
        ("I was overcharged on my bill", "money problem"),
        ("still no refund", "money problem"),
        ("the app is not working", "not working or not done"),
        ("can't log in since yesterday", "not working or not done"),
        ("is the site down", "outage or error"),
        ("big outage in my area", "outage or error"),
        ("error 500 on checkout", "outage or error"),
        ("the app keeps crashing", "outage or error"),
        ("they sent the wrong size", "wrong or denied"),
        # negated help
        ("your chat bot was no help", "no help"),
        ("nobody answers the phone", "no help"),
        ("support is useless", "no help"),
        # sarcasm
        ("thanks for losing my bag", "sarcastic thanks"),
        ("great job on the update... not", "sarcastic thanks"),
        ("love waiting on the phone all morning", "sarcastic thanks"),
        # more service cues
        ("is anyone else having trouble with the checkout", "asks if others have the problem"),
        ("thanks for replying but the fault is back", "polite but"),
        ("the new tariff #fail", "complaint hashtag"),
        ("the lady at the call centre", "about the staff"),
        ("about my refund from March", "about their own order"),
        ("following up on case number 5521", "chasing it up"),
        ("the heating is broken again", "still unresolved"),
        ("what happened to my order", "asks where their order is"),
        ("why is my bill so high", "asks why it went wrong"),
        ("never shopping with them again", "will leave"),
        # questions and praise
        ("does anyone know if the store opens sunday", "asks a question"),
        ("what time do you open?", "asks a question"),
        ("how do I change my plan", "asks a question"),
        ("thank you, the new menu is awesome", "thanks or praise"),
    ],
)
def test_each_signal_fires(text: str, label: str) -> None:
    assert label in labels(text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I can't wait for the launch", "not working or not done"),
        ("thanks for the quick fix", "sarcastic thanks"),
        ("we are flying out in 2 hours!", "{m}"),
        ("the chocolate is broken-hearted good", "lost or missing"),
        ("a cityscape of lights", "thanks or praise"),  # "ty" inside a word
    ],
)
def test_signal_does_not_fire(text: str, label: str) -> None:
    assert label not in labels(text)


def test_prefilter_never_hides_a_match() -> None:
    texts = [
        "Ugh!!! my order never arrived and nobody replies, 3rd email",
        "@acme_help thx for nothing, charged me twice and the app keeps freezing",
        "Is there a refund if the flight is cancelled?? Waited 2.5 hrs",
        "love the new look <3 :) #fail not really, it's down again",
        "why is it so hard to get through... on hold forever, unhelpful rep",
        "laptop won't turn on, stopped working; out of stock. bring it back! not impressed",
        "burger undercooked and so slow, why did you change the menu without any notice",
    ]
    for text in texts:
        low = normalise(text)
        full = {s.label for s in SIGNALS if s.source and re.search(s.source, low)}
        assert full == labels(text) & {s.label for s in SIGNALS}, text


@pytest.mark.parametrize(
    ("text", "intent", "needs_reply"),
    [
        ("@acmeair thanks for losing my luggage", "complaint", True),
        ("on hold for TWO HOURS with @acmebank", "complaint", True),
        ("I need help with a missing bag", "complaint", True),
        ("great, another delay. love waiting at the gate", "complaint", True),
        ("the app keeps crashing and support is useless", "complaint", True),
        ("what time does the Leeds store open on Sunday?", "question", True),
        ("does the premium plan include phone support", "question", True),
        ("thank you @acme, the new update is brilliant", "praise", False),
        ("love my new headphones, best purchase this year", "praise", False),
        ("heading to the shops later", "other", False),
    ],
)
def test_intent_and_needs_reply(text: str, intent: str, needs_reply: bool) -> None:
    t = classify(text, vader(text))
    assert (t.intent, t.needs_reply) == (intent, needs_reply), t.reason


def test_positive_vader_complaint() -> None:
    text = "Thanks so much, great service as always: waited 3 hours and my parcel is still missing"
    compound = vader(text)
    assert compound > 0.05  # VADER alone calls it positive
    t = classify(text, compound)
    assert t.intent == "complaint" and t.needs_reply
    assert "waited 3 hours" in t.reason and "lost or missing" in t.reason


def test_sarcastic_thanks_reason() -> None:
    t = classify("thanks for losing my luggage", vader("thanks for losing my luggage"))
    assert t.intent == "complaint"
    assert t.reason.startswith("complaint: ")
    assert "sarcastic thanks" in t.reason and "lost or missing" in t.reason


def test_bad_mood_alone_is_not_a_complaint_but_a_named_problem_is() -> None:
    mood = "feeling tired and sad today"
    assert classify(mood, vader(mood)).intent != "complaint"
    named = "your delivery driver left me feeling sad today"
    assert classify(named, vader(named)).intent == "complaint"


def test_neutral_question_to_brand_needs_reply() -> None:
    text = "@acme do you ship to Norway"
    t = classify(text, vader(text), addressed=True)
    assert t.intent == "question" and t.needs_reply
    assert t.reason == "question: asks a question"


def test_unknown_compound_still_classifies() -> None:
    assert classify("my card was charged twice", None).intent == "complaint"
    assert classify("", None) == Triage("other", False, "other: no problem or request", 5.0)


def test_priority_orders_urgent_over_mild() -> None:
    loud = "@acmeair you lost my bag and nobody answers the phone, terrible"
    mild = "the coffee at the lounge was a bit cold"
    high = classify(
        loud,
        vader(loud),
        addressed=True,
        followers=250_000,
        created_at=NOW - timedelta(minutes=5),
        now=NOW,
    )
    low = classify(
        mild,
        vader(mild),
        addressed=False,
        followers=12,
        created_at=NOW - timedelta(days=3),
        now=NOW,
    )
    assert high.priority > low.priority
    assert band_for(high.priority) == "urgent"
    assert band_for(low.priority) in ("normal", "low")


@pytest.mark.parametrize(
    ("change", "higher"),
    [
        ({"addressed": True}, True),
        ({"followers": 1_000_000}, True),
        ({"created_at": NOW - timedelta(minutes=1)}, True),
        ({"created_at": NOW - timedelta(days=2)}, False),
    ],
)
def test_each_priority_input_moves_priority(change: dict, higher: bool) -> None:
    text = "my order never arrived"
    base = {
        "addressed": False,
        "followers": 100,
        "created_at": NOW - timedelta(hours=6),
        "now": NOW,
    }
    before = classify(text, vader(text), **base).priority
    after = classify(text, vader(text), **{**base, **change}).priority
    assert (after > before) if higher else (after < before)


def test_negativity_raises_priority_and_neg_share_counts() -> None:
    text = "my order never arrived"
    assert classify(text, -0.8).priority > classify(text, 0.0).priority
    assert classify(text, 0.0, neg=0.4).priority > classify(text, 0.0).priority


def test_priority_is_clamped() -> None:
    text = "TERRIBLE!!! lost my bag, cancelled flight, on hold 3 hours, nobody helps, useless"
    t = classify(text, -0.99, addressed=True, followers=10**9, created_at=NOW, now=NOW)
    assert 0.0 <= t.priority <= 100.0


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    a = classify("order late", -0.2, created_at=NOW - timedelta(hours=1), now=naive_now)
    b = classify("order late", -0.2, created_at=NOW - timedelta(hours=1), now=NOW)
    assert a == b


@pytest.mark.parametrize(
    ("priority", "band"),
    [
        (100.0, "urgent"),
        (80.0, "urgent"),
        (79.9, "high"),
        (50.0, "high"),
        (49.9, "normal"),
        (20.0, "normal"),
        (19.9, "low"),
        (0.0, "low"),
    ],
)
def test_band_for_boundaries(priority: float, band: str) -> None:
    assert band_for(priority) == band


def test_triage_module_reexports_intent() -> None:
    assert triage.classify is classify
    assert triage.band_for is band_for
    assert triage.Triage is Triage


# --- target: a complaint is aimed at someone; a bad mood alone is venting ---------


@pytest.mark.parametrize(
    "text",
    [
        "ugh, worst monday ever. so tired and fed up with everything",
        "feeling miserable and angry tonight, hate this week so much",
        "why is everything so hard, nothing works out for me lately",
    ],
)
def test_personal_venting_without_target_is_not_a_complaint(text: str) -> None:
    s = Scorer().score(text)
    assert s.compound is not None and s.compound <= -0.05  # VADER alone would flag it
    t = classify(text, s.compound, neg=s.neg)
    assert t.intent != "complaint", t.reason
    assert not t.needs_reply


def test_same_bad_mood_aimed_at_the_brand_is_a_complaint() -> None:
    text = "ugh, worst monday ever. so tired and fed up with everything"
    s = Scorer().score(text)
    assert classify(text, s.compound, neg=s.neg).intent != "complaint"
    # Posted at the brand's own account, the same words are aimed at it.
    t = classify(text, s.compound, neg=s.neg, addressed=True)
    assert t.intent == "complaint" and t.needs_reply
    # "you" aims it too.
    aimed = "you ruined my evening, so angry"
    assert classify(aimed, vader(aimed)).intent == "complaint"


@pytest.mark.parametrize(
    "text",
    [
        "the app stopped working after the update and there is still no refund",
        "the package arrived two days late and the box was crushed",
        "my new jacket shrunk after one wash, really poor quality",
        "why did you change the recipe? bring back the old one",
        "not happy with the new seats on the train",
        "your support line put me on hold for an hour",
    ],
)
def test_targeted_service_failure_is_a_complaint(text: str) -> None:
    s = Scorer().score(text)
    t = classify(text, s.compound, neg=s.neg)
    assert t.intent == "complaint" and t.needs_reply, t.reason


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("the printer stopped working yesterday", "stopped or unavailable"),
        ("the size I need is out of stock again", "stopped or unavailable"),
        ("changed my plan without any notice", "stopped or unavailable"),
        ("not impressed with the new layout", "not happy with it"),
        ("delivery is painfully slow this week", "not happy with it"),
        ("the burger was undercooked", "product fault"),
        ("the laptop won't turn on", "product fault"),
        ("please bring back the old menu", "change for the worse"),
        ("you raised the prices again", "change for the worse"),
        ("the website", "names a product or service"),
    ],
)
def test_new_signals_fire(text: str, label: str) -> None:
    assert label in labels(text)


def test_negative_share_counts_only_with_a_target() -> None:
    aimed = "about the new app update"  # a target, no other cue
    assert classify(aimed, 0.0).intent != "complaint"
    assert classify(aimed, 0.0, neg=0.9).intent == "complaint"
    assert classify("what a day", 0.0, neg=0.9).intent != "complaint"  # no target


def test_scorer_reports_negative_share() -> None:
    s = Scorer().score("the app is broken and the support is useless")
    assert s.neg is not None and 0.0 < s.neg <= 1.0
    assert Scorer().score("great stuff, thank you all").neg == 0.0
    assert Scorer().score("great stuff, thank you all", lang="de").neg is None


# --- the fast path finds exactly what the plain method finds ---------------------
#
# signals() looks tokens up per whitespace chunk in caches and runs a phrase regex
# only when a condition read off the regex holds; classify caches what does not
# depend on VADER's scores. The plain method below is the definition: every regex
# whose keys occur runs on the normalised text.


def plain_signals(text: str) -> list[tuple[Signal, str]]:
    tokens = intent_scan._tokens(text)
    low = " " + " ".join(tokens) + " "
    tokset = set(tokens)
    stems = {t[: intent_regex._KEY_LEN] for t in tokens}
    out: list[tuple[Signal, str]] = []
    for s in SIGNALS:
        hit = next((t for t in tokens if t in s.words), None)
        if hit is None and s.prefixes:
            hit = next((t for t in tokens if t.startswith(s.prefixes)), None)
        if hit is None and s.keys & stems and not (s.also and s.also.isdisjoint(stems)):
            m = s.pattern.search(low)
            hit = m.group(0).strip() if m else None
        if hit is not None:
            out.append((s, hit))
    fired = {s.kind for s, _ in out}
    if "?" not in tokset and "question" not in fired and tokens:
        if (
            tokens[0] in intent_signals._Q_FIRST
            or tuple(tokens[:2]) in intent_signals._Q_PAIRS
            or intent_signals._LATER_QUESTION.search(low)
        ):
            out.append((intent.QUESTION_FORM, ""))
    if tokset & intent_signals._YOU:
        out.append((intent.TO_YOU, ""))
    out += [(intent.NEGATION, "")] * min(len(tokset & intent_signals._NEGATIONS), 2)
    if "?!" in text or "!?" in text or "??" in text or intent_signals._SHOUT.search(text):
        out.append((intent.SHOUTING, ""))
    return out


def plain_classify(text: str, compound: float | None, **kw) -> Triage:
    fired = plain_signals(text)
    addressed = kw.get("addressed", False)
    neg = kw.get("neg")
    intent_, evidence = intent._decide(fired, compound, addressed, neg)
    needs_reply = intent_ in ("complaint", "question") or (
        addressed and any(s.kind in ("help", "question") for s, _ in fired)
    )
    comp = compound if compound is not None else 0.0
    negativity = max(0.0, -comp, 2.0 * neg if neg is not None else 0.0)
    priority = intent.INTENT_BASE[intent_]
    if intent_ == "complaint":
        priority += min(15.0, 5.0 * max(evidence, 0.0))
    priority += 15.0 * min(negativity, 1.0)
    priority += (12.0 if needs_reply else 3.0) if addressed else 0.0
    priority += intent._reach(kw.get("followers")) + intent._recency(
        kw.get("created_at"), kw.get("now")
    )
    priority = max(0.0, min(100.0, priority))
    reason = intent._reason(intent_, fired, compound)
    return Triage(intent_, needs_reply, reason, round(priority, 1))


def generated_texts(n: int, seed: int) -> list[str]:
    """Texts made of the signals' own words and phrases, punctuation, numbers,
    capitals, apostrophes, @handles, emoji and other scripts, in random order."""
    rng = random.Random(seed)
    pool = sorted(
        {w for s in SIGNALS for w in s.words}
        | {w for s in SIGNALS for w in re.findall(r"[a-z#]+", s.source)}
        | intent_signals._NEGATIONS
        | intent_signals._YOU
    )
    pool += [
        "?", "!", "?!", "...", ",", ":)", "<3", "@acme", "#fail", "#failing", "3", "2.5",
        "10:30", "3rd", "2hrs", "ah", "wi - fi", "don't", "can\u2019t", "isn\u02bct",
        "WTF", "ACME", "NOT OK", "café", "İstanbul", "ΟΔΟΣ", "日本語", "🙄", "\u200f", "(#12)",
    ]  # fmt: skip
    out = ["", " ", "@acme", "@acme @bob", ". hi", "'' what", "\u2019 why is it", "'@acme hi"]
    for _ in range(n):
        words = [rng.choice(pool) for _ in range(rng.randint(1, 20))]
        if rng.random() < 0.3:
            words = [w.upper() if rng.random() < 0.3 else w.capitalize() for w in words]
        seps = rng.choices([" ", " ", " ", "", "\t", "\u00a0", ". ", "? ", "\n"], k=len(words))
        lead = rng.choice(["", "", "", "@acme ", ". ", "' ", ":) "])
        out.append(lead + "".join(w + s for w, s in zip(words, seps, strict=True)))
    return out


def test_fast_path_matches_the_plain_method() -> None:
    rng = random.Random(3)
    texts = generated_texts(4000, seed=11) + [
        "on hold for two hours " * 3000,  # a long body
        "Thanks so much, great service as always: waited 3 hours and my parcel is still missing",
        "@acmeair you lost my bag and nobody answers the phone, terrible",
    ]
    for text in texts:
        want = plain_signals(text)
        got = signals(text)
        assert [s for s, _ in got] == [s for s, _ in want], text
        for (s, a), (_, b) in zip(got, want, strict=True):
            if a != b:  # several cue words: any one of them (the first is shown)
                assert s.words or s.prefixes, (text, s.label, a, b)
        kw = {
            "addressed": rng.random() < 0.3,
            "neg": rng.choice([None, 0.0, 0.25]),
            "followers": rng.choice([None, 0, 5000]),
            "created_at": NOW - timedelta(minutes=rng.randint(0, 3000)),
            "now": rng.choice([NOW, None]),
        }
        compound = rng.choice([None, 0.0, -0.05, 0.5, -0.7])
        assert classify(text, compound, **kw) == plain_classify(text, compound, **kw), text


def test_fast_path_repeats_itself() -> None:
    """The caches change nothing: the same text gives the same result the second time."""
    for text in generated_texts(300, seed=5):
        assert signals(text) == signals(text)
        assert classify(text, -0.4, neg=0.2) == classify(text, -0.4, neg=0.2)


def test_requirements_of_a_phrase() -> None:
    req = intent_regex._requirements(r" still (?:waiting|on hold)\b")
    assert req is not None
    conds, alternatives = req
    assert alternatives == [r" still (?:waiting|on hold)\b"]
    x = intent_regex._EXACT
    assert {c: (exact, alts) for c, exact, alts in conds} == {
        frozenset({frozenset({x + "still"}), frozenset({x + "waiting"})}): (False, {0}),
        frozenset({frozenset({x + "still"}), frozenset({x + "on"}), frozenset({x + "hold"})}): (
            False,
            {0},
        ),
    }
    # A group right after the space is split; a single word is exact (no regex runs).
    req = intent_regex._requirements(r" (?:fed up|wondering)\b")
    assert req is not None
    conds, alternatives = req
    assert alternatives == [r" (?:fed up)\b", r" (?:wondering)\b"]
    assert (frozenset({frozenset({x + "wondering"})}), True, frozenset()) in conds
    assert intent_regex._requirements(r" \?") == (
        [(frozenset({frozenset({"?"})}), True, frozenset())],
        [r" \?"],
    )
    assert intent_regex._requirements("(?!)") is None


def test_full_caches_start_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (intent, intent_scan):  # the caches of both modules
        monkeypatch.setattr(module, "_CACHE_SIZE", 40)
    for text in generated_texts(400, seed=9):
        assert [s for s, _ in signals(text)] == [s for s, _ in plain_signals(text)], text
        assert classify(text, -0.2) == plain_classify(text, -0.2), text
    assert len(intent_scan._CHUNKS[False]) <= 40 + 25  # one text's chunks past the limit at most


@pytest.mark.parametrize(
    "texts",
    [
        # A chunk seen first without apostrophes in the text, then with them (and back).
        ["where is my bag", "where's my bag? it isn't here", "where is my bag"],
        ["WHERE is it?! don't", "WHERE is it?! dont", "`WHERE` is it?!"],
        # \u02bc and ` are dropped only in a text with ' or \u2019 in it.
        ["isn\u02bct it great", "isn\u02bct it great, i'm told", "`not` great, i'm told"],
        ["`not` great", "`not` great, i\u2019m told"],
        # Leading chunks dropped whole, in part (flagged once, then read token by token), or not.
        ["@acme:why is it down", "@acme: why is it down", ".@acme, where is my refund?"],
        ["@acme,hi can you help", "@acme ,hi can you help", "'@acme can you help"],
    ],
)
def test_cached_chunks_give_the_plain_result_in_any_order(texts: list[str]) -> None:
    intent._reset_caches()
    for text in [*texts, *reversed(texts)]:
        assert [s for s, _ in signals(text)] == [s for s, _ in plain_signals(text)], text
        assert classify(text, -0.3, neg=0.1) == plain_classify(text, -0.3, neg=0.1), text
