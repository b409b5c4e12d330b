"""FastVader returns exactly plain VADER 3.3.2's dict, on generated and adversarial texts."""

from __future__ import annotations

import random
import string

import pytest
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    NEGATE,
    SentimentIntensityAnalyzer,
)

from earful.sentiment import SERVICE_VALENCE, analyzer, fast_analyzer, tuned_analyzer
from earful.vader import FastVader, _but_check, _score_valence


@pytest.fixture(scope="module")
def plain_tuned():
    """Plain VADER with the service valences: the reference for the tuned analyzer."""
    sia = SentimentIntensityAnalyzer()
    sia.lexicon.update(SERVICE_VALENCE)
    return sia


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a == b and list(a) == list(b) and all(type(a[k]) is type(b[k]) for k in a)


# Words whose rules VADER applies around a lexicon word, and phrases it looks for.
RULE_TOKENS = [
    *"but BUT But no No NO least at very kind of sort never so this without doubt".split(),
    *"the bomb shit bad ass bus stop yeah right kiss death to die for beating heart".split(),
    *"just enough or nor don't isn't can't aint n't DON'T not NOT I A OK ok".split(),
    *":) :( :-) D: XD :D <3 </3 ! !! !!!!! ? ?? ???? ... - ' # ( ) \"".split(),
    *"İ ẞ straße ÉCOLE école café naïve 😀 👍 ❤ ☺️ \u202e Ǆ ǅ K ﬁ İyi NÉ ÑO café! GOOD💔".split(),
    *"ΟΔΟΣ ΟΔΟΣ. ΑΣ: Σ σς ΣΑΣ! 'Σ' ΑΒΣ' ΣΑ.Σ Σ. .Σ 𝐀𝐁 Ⅻ ǈ".split(),  # final sigma, odd cases
]
PHRASES = [
    "very least",
    "at least",
    "never so",
    "never this",
    "without doubt",
    "no or",
    "no nor",
    "kind of",
    "sort of",
    "just enough",
    "the bomb",
    "the shit",
    "bad ass",
    "bus stop",
    "yeah right",
    "kiss of death",
    "to die for",
    "beating heart",
    "not very",
    "isn't really",
    "so very",
    "never so very",
    "no no",
    "but but",
    "no good",
    "no, good",
]
FILLER = ["service", "the", "a", "my", "app", "and", "was", "it", "is", "team", "x"]


def _token(rng: random.Random, lexicon: list[str], emoji: list[str]) -> str:
    r = rng.random()
    if r < 0.3:
        w = rng.choice(lexicon)
    elif r < 0.45:
        w = rng.choice(list(BOOSTER_DICT))
    elif r < 0.55:
        w = rng.choice(NEGATE)
    elif r < 0.8:
        w = rng.choice(RULE_TOKENS)
    elif r < 0.85:
        w = rng.choice(list(SERVICE_VALENCE))
    elif r < 0.9:
        w = rng.choice(emoji)
    else:
        w = rng.choice(FILLER)
    r = rng.random()
    if r < 0.15:
        w = w.upper()
    elif r < 0.2:
        w = w.capitalize()
    if rng.random() < 0.1:
        w = rng.choice(string.punctuation) + w
    if rng.random() < 0.15:
        w += rng.choice(string.punctuation) * rng.randint(1, 3)
    return w


def generated_texts(seed: int, n: int) -> list[str]:
    """A seeded mix: lexicon words, boosters, negations, idioms, "but", caps, punctuation, emoji."""
    rng = random.Random(seed)
    sia = analyzer()
    lexicon = sorted(sia.lexicon)
    emoji = sorted(k for k in sia.emojis if len(k) == 1)
    seps = [" "] * 20 + ["  ", "\t", "\n", "", "\u00a0"]
    out = []
    for _ in range(n):
        if rng.random() < 0.5:  # a few words repeated: repeated values meet the "but" rule
            vocab = [_token(rng, lexicon, emoji) for _ in range(rng.randint(1, 5))]
            vocab += rng.sample(PHRASES, 3) + [rng.choice(lexicon) for _ in range(2)]
            k = rng.choice([1, 2, 3, 4, 6, 8, 12, 20])
            sep = rng.choice([" ", "  ", "! ", ", "])
            end = rng.choice(["", "!", "?", "??", "!!!!!", " :)"])
            out.append(sep.join(rng.choice(vocab) for _ in range(k)) + end)
        else:
            k = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 25, 40])
            out.append("".join(_token(rng, lexicon, emoji) + rng.choice(seps) for _ in range(k)))
    return out


def test_generated_texts_score_as_plain_vader(plain_tuned):
    fast, tuned, plain = fast_analyzer(), tuned_analyzer(), analyzer()
    texts = generated_texts(seed=20_261_125, n=6_000)
    assert len(set(texts)) > 5_000
    for text in texts:
        assert same(fast.polarity_scores(text), plain.polarity_scores(text)), text
        assert same(tuned.polarity_scores(text), plain_tuned.polarity_scores(text)), text


def test_generated_texts_exercise_the_rules():
    """The generator reaches the rules it is meant to check (else the test above proves little)."""
    texts = generated_texts(seed=20_261_125, n=6_000)
    low = [t.lower() for t in texts]
    assert sum("but" in t.split() for t in low) > 250
    assert sum("least" in t for t in low) > 300
    assert sum("kind of" in t for t in low) > 100
    assert sum("never so" in t for t in low) > 100
    assert sum(not t.isascii() for t in texts) > 1_000
    assert sum(any(w.isupper() and len(w) > 2 for w in t.split()) for t in texts) > 1_000


ADVERSARIAL = [
    "",
    "   \n\t ",
    "!!!",
    "?? !! ...",
    "good but bad but great",
    "but it was good",
    "it was good but",
    "good good good but good good",
    "great but good but bad. but yes",
    "bad awful but good great good great",
    "GOOD but bad, BAD but Good!!!",
    "It is kind of good but kind of bad",
    "kind of",
    "kind",
    "never so good, never this bad, never so very good",
    "without doubt the best; without any doubt",
    "at least it works, the very least good, least bad",
    "the bomb! that was the shit, cut the mustard, to die for",
    "yeah right great job",
    "bus stop kiss of death beating heart bad ass",
    "really not good, not really good, very very good",
    "NOT GOOD. really NOT good!!!! VERY GOOD",
    "I LOVE IT SO MUCH",
    "ALL CAPS EVERYWHERE GOOD",
    "no good, no problems, nor great, no or good",
    "no no no",
    "no",
    "don't like it, isn't great, can't complain, aint bad",
    "hasn't been good, wouldn't recommend",
    ":) :( :-) <3 </3 D: XD :D",
    "great!!!!!!!! sad??? ok???",
    "love it 😍👍😡",
    "😀abc a😀😀 b  😀 x I ❤ it ☺️ ok \u00a0😡\u00a0",
    "😀",
    " 😀 😀😀 ",
    "a\x00😀 b \x00 😀",  # NUL in the text: the other way of describing emoji
    "İstanbul is GREAT, straße ẞ ÉCOLE école",
    "C'est très bien, merci beaucoup",
    "Der Service ist schlecht",
    "!!! ??? ... --- ((( )))",
    "'good' \"bad\" (great) [awful] {nice}",
    "good" * 50,
    ("we love it but the delay was awful. " * 150)[:5_000],
    "good " * 1_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial_texts_score_as_plain_vader(text, plain_tuned):
    assert same(fast_analyzer().polarity_scores(text), analyzer().polarity_scores(text))
    assert same(tuned_analyzer().polarity_scores(text), plain_tuned.polarity_scores(text))


def test_but_rule_matches_vader_on_repeated_values():
    """VADER's `sentiments.index(value)` quirk, replayed on the non-zero sentiments only."""
    rng = random.Random(7)
    pool = [0, 0, 0.0, 1.0, 2.0, 0.5, 1.5, 3.0, 4.5, 0.75, 2.25, -1.0, -2.0, -0.5, -1.5, -3.0]
    differs = 0
    for _ in range(20_000):
        n = rng.randint(1, 10)
        sentiments = [rng.choice(pool) for _ in range(n)]
        words = ["x"] * n
        bi = rng.randrange(n)
        words[bi] = "but"
        expected = SentimentIntensityAnalyzer._but_check(words, list(sentiments))
        positions = [i for i, s in enumerate(sentiments) if s != 0]
        values = [s for s in sentiments if s != 0]
        _but_check(values, positions, bi)
        got = [0.0] * n
        for p, v in zip(positions, values, strict=True):
            got[p] = v
        assert got == expected, (sentiments, bi)
        differs += got != [
            s * (0.5 if i < bi else 1.5 if i > bi else 1) for i, s in enumerate(sentiments)
        ]
    assert differs > 1_000  # the quirk really happened


def test_lexicon_updates_are_indexed():
    fast = FastVader({"acmeish": 3.0})
    assert fast.polarity_scores("acmeish")["compound"] > 0.5
    fast.update_lexicon({"acmeish": -3.0})
    assert fast.polarity_scores("acmeish")["compound"] < -0.5
    assert fast.lexicon["acmeish"] == -3.0
    with pytest.raises(TypeError):  # a change that would bypass the index fails loudly
        fast.lexicon["acmeish"] = 1.0  # type: ignore[index]


def test_result_is_a_fresh_dict():
    fast = fast_analyzer()
    a = fast.polarity_scores("great")
    a["compound"] = 99.0
    assert fast.polarity_scores("great")["compound"] != 99.0
    b = fast.polarity_scores("nothing here")
    b["neu"] = 5.0
    assert fast.polarity_scores("nothing here")["neu"] == 1.0


def test_lower_case_keeps_spaces_and_punctuation_apart():
    """What FastVader's whole-text `lower()` relies on, for every character whose
    lower case is one character: spaces stay spaces, VADER's punctuation stays
    punctuation, and nothing else becomes either."""
    punctuation = set(string.punctuation)
    for cp in range(0x110000):
        c = chr(cp)
        low = c.lower()
        assert low, cp
        if len(low) == 1:
            assert c.isspace() == low.isspace(), cp
            assert (c in punctuation) == (low in punctuation), cp


def test_final_sigma_and_long_lower_cases():
    for text in ["ΟΔΟΣ GOOD. ΑΒΣ' great", "İyi GOOD but bad", "good İ İ İ", "ΣΑ.Σ NOT good"]:
        assert same(fast_analyzer().polarity_scores(text), analyzer().polarity_scores(text))


def test_scores_from_non_zero_sentiments_match_vader():
    """Zeros dropped before summing and counted as neutral: VADER's floats, to the bit."""
    rng = random.Random(11)
    pool = [0.5, 1.9, -2.1, 3, -0.74, 2.85, -4.0, 1.0, 0.1, -0.1, 3.7, -3.4, 4.0, 1e-4, -1.44]
    sia = analyzer()
    for _ in range(20_000):
        n = rng.randint(1, 40)
        values = [rng.choice(pool) * rng.choice([1, 0.5, 1.5, 1.25, -0.74]) for _ in range(8)]
        sentiments = values[: rng.randint(0, min(n, 8))] + [0] * n
        sentiments = sentiments[:n]
        rng.shuffle(sentiments)
        text = "!" * rng.randint(0, 6) + "?" * rng.randint(0, 5)
        non_zero = [v for v in sentiments if v != 0]
        assert same(_score_valence(non_zero, n, text), sia.score_valence(sentiments, text))
