"""VADER, built once per process, with brand-aware preprocessing.

Customer posts are full of words that are names, not feelings: the handle
`@united` reads as the positive word "united", a brand called "Joy" or "Best"
would make every mention glow. `Scorer.prepare` masks handles (also
`user@instance` and `name.bsky.social`), URLs and the configured brand and
competitor terms, and splits hashtags into words (`#NeverAgain` -> "Never
Again", `#poorservice` -> "poor service") before VADER sees the text.

Text that is not English is `unscored` (compound None): VADER's lexicon is
English. A platform's own language tag wins; otherwise `earful.lang` decides.

`analyzer()` is plain VADER, the baseline the benchmarks compare against.
`Scorer` uses `tuned_analyzer()`: a `FastVader` (VADER's scores, computed
without three wasteful steps, so masking and language detection come free)
with a small set of customer-service valences (`SERVICE_VALENCE`) from general
language knowledge. Each is built once per process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import wordninja
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    SentiText,
)

from earful.lang import detect_lang, normalize_lang

POSITIVE = 0.05
NEGATIVE = -0.05
UNSCORED = "unscored"

# Plain VADER's cost grows with the square of a text's length (100 KB takes
# ~20 s). FastVader removes most of that, but its "but" rule is still
# quadratic, so long texts are scored in chunks of about this size and the
# chunk compounds averaged, as VADER's authors suggest for paragraphs.
CHUNK_CHARS = 1_000
MAX_CHUNKS = 20

# Valences (VADER's -4..+4 scale) for words that carry customer-service
# meaning VADER's general lexicon misses or understates. From general
# knowledge of support conversations; none derived from evaluation data.
SERVICE_VALENCE: dict[str, float] = {
    "delayed": -1.5,
    "delay": -1.3,
    "delays": -1.3,
    "cancelled": -1.5,
    "canceled": -1.5,
    "outage": -2.0,
    "outages": -2.0,
    "stranded": -2.0,
    "overbooked": -1.5,
    "overcharged": -2.0,
    "stuck": -1.5,
    "unresponsive": -1.8,
    "unhelpful": -1.8,
    "glitch": -1.2,
    "glitchy": -1.5,
    "buggy": -1.5,
    "crashed": -1.5,
    "crashing": -1.5,
    "refund": -0.8,
    "waited": -0.5,
    "nightmare": -2.5,
}


@dataclass(frozen=True, slots=True)
class Sentiment:
    compound: float | None
    label: str
    lang: str | None
    neg: float | None = None  # VADER's share of negative words (None when not measured)


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """The plain VADER analyzer of this process (the baseline)."""
    return SentimentIntensityAnalyzer()


class FastVader(SentimentIntensityAnalyzer):
    """VADER 3.3.2 with the same scores at less cost.

    Three of VADER's steps do work they throw away, and are redone here
    exactly: `polarity_scores` rewrites emoji one character at a time in
    Python (its emoji keys are all non-ASCII and only single characters can
    match, so ASCII text skips the step and other text uses one regex with the
    same spacing rules); `_negation_check` and `_special_idioms_check`
    lower-case the whole text for every sentiment word (quadratic: 100 KB took
    20 s) but read only the words from i-3 to i+2. The tests and
    bench/sentiment.py check that scores equal plain VADER's.
    """

    def __init__(self) -> None:
        super().__init__()
        singles = sorted(k for k in self.emojis if len(k) == 1)
        self._emoji = re.compile("[" + "".join(re.escape(k) for k in singles) + "]")

    def describe_emoji(self, text: str) -> str:
        emojis = self.emojis

        def one(m: re.Match[str]) -> str:
            i = m.start()
            # VADER adds a space before a description unless the previous
            # character was a space (or there was none); an emoji is not one.
            if i == 0 or text[i - 1] == " ":
                return str(emojis[m.group()])
            return " " + emojis[m.group()]

        return self._emoji.sub(one, text)

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not text.isascii():
            text = self.describe_emoji(text)
        text = text.strip()
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words_and_emoticons = sentitext.words_and_emoticons
        last = len(words_and_emoticons) - 1
        for i, item in enumerate(words_and_emoticons):
            low = item.lower()
            if low in BOOSTER_DICT or (
                i < last and low == "kind" and words_and_emoticons[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words_and_emoticons, sentiments)
        scores: dict[str, float] = self.score_valence(sentiments, text)
        return scores

    # VADER only calls these with i > start_i (and i >= 3 for the idioms), so
    # every index below is non-negative: the window holds all they read.

    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        w = {j: words[j].lower() for j in range(max(0, i - 3), i)}
        if start_i == 0:
            if _negated(w[i - 1]):
                valence = valence * N_SCALAR
        if start_i == 1:
            if w[i - 2] == "never" and (w[i - 1] == "so" or w[i - 1] == "this"):
                valence = valence * 1.25
            elif w[i - 2] == "without" and w[i - 1] == "doubt":
                pass
            elif _negated(w[i - 2]):
                valence = valence * N_SCALAR
        if start_i == 2:
            if (
                w[i - 3] == "never"
                and (w[i - 2] == "so" or w[i - 2] == "this")
                or (w[i - 1] == "so" or w[i - 1] == "this")
            ):
                valence = valence * 1.25
            elif w[i - 3] == "without" and (w[i - 2] == "doubt" or w[i - 1] == "doubt"):
                pass
            elif _negated(w[i - 3]):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
        n = len(words)
        w = {j: words[j].lower() for j in range(max(0, i - 3), min(n, i + 3))}
        onezero = f"{w[i - 1]} {w[i]}"
        twoonezero = f"{w[i - 2]} {w[i - 1]} {w[i]}"
        twoone = f"{w[i - 2]} {w[i - 1]}"
        threetwoone = f"{w[i - 3]} {w[i - 2]} {w[i - 1]}"
        threetwo = f"{w[i - 3]} {w[i - 2]}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in SPECIAL_CASES:
                valence = SPECIAL_CASES[seq]
                break
        if n - 1 > i:
            zeroone = f"{w[i]} {w[i + 1]}"
            if zeroone in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroone]
        if n - 1 > i + 1:
            zeroonetwo = f"{w[i]} {w[i + 1]} {w[i + 2]}"
            if zeroonetwo in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
        return valence


_NEGATE = frozenset(NEGATE)


def _negated(word: str) -> bool:
    """VADER's `negated([word])` for one lower-cased word."""
    return word in _NEGATE or "n't" in word


@lru_cache(maxsize=1)
def fast_analyzer() -> FastVader:
    """`FastVader` with VADER's own lexicon (for comparisons: same scores as `analyzer()`)."""
    return FastVader()


@lru_cache(maxsize=1)
def tuned_analyzer() -> FastVader:
    """VADER with `SERVICE_VALENCE` added: the analyzer `Scorer` uses, one per process."""
    tuned = FastVader()
    tuned.lexicon.update(SERVICE_VALENCE)
    return tuned


def label_for(compound: float | None) -> str:
    """positive (>= 0.05), negative (<= -0.05), neutral between, unscored for None."""
    if compound is None:
        return UNSCORED
    if compound >= POSITIVE:
        return "positive"
    if compound <= NEGATIVE:
        return "negative"
    return "neutral"


# Patterns start with a literal where they can: a leading look-behind would
# stop `re` from skipping ahead to candidate positions and cost 3x more.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# @user, @user@instance.social, @name.bsky.social.
_AT_HANDLE = re.compile(r"@[\w-]++(?:[.@][\w-]++)*+")
# user@instance.social written without the leading @ (and e-mail addresses).
_BARE_HANDLE = re.compile(r"(?<![\w.+@-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_BSKY = re.compile(r"(?<![\w.@/-])[\w-]++(?:\.[\w-]++)*?\.bsky\.social\b", re.IGNORECASE)
_HASHTAG = re.compile(r"#([^\W_]\w*)")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# wordninja's own vocabulary: a hashtag part that is already a word is not cut
# (private attribute; without it every long part just goes through the splitter).
_WORDNINJA_WORDS: dict[str, float] = getattr(wordninja.DEFAULT_LANGUAGE_MODEL, "_wordcost", {})


@lru_cache(maxsize=65_536)
def split_hashtag(tag: str) -> str:
    """`NeverAgain` -> "Never Again", `poorservice` -> "poor service" (tag without '#')."""
    if not tag.isascii():
        return tag.replace("_", " ")
    lexicon = tuned_analyzer().lexicon
    words: list[str] = []
    for part in _CAMEL.findall(tag):
        low = part.lower()
        if len(part) <= 4 or part.isdigit() or low in lexicon or low in _WORDNINJA_WORDS:
            words.append(part)
        else:
            words.extend(wordninja.split(part))
    return " ".join(words) if words else tag


def _split_hashtag_match(m: re.Match[str]) -> str:
    start = m.start()
    if start > 0:
        before = m.string[start - 1]
        if before.isalnum() or before in "_&#":  # C#, &#39;, a#b: not hashtags
            return m.group(0)
    return " " + split_hashtag(m.group(1)) + " "


def _has_bare_handle(text: str) -> bool:
    """Whether some '@' follows a word character (user@instance, e-mail)."""
    i = text.find("@")
    while i != -1:
        if i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._+-"):
            return True
        i = text.find("@", i + 1)
    return False


def _term_bodies(terms: Iterable[str]) -> list[str]:
    """Regex bodies for terms and handles, longest first ("acme cloud" before "acme")."""
    bodies = set()
    for term in terms:
        term = term.strip().strip('"').lstrip("@#").lower()
        for variant in {term, term.split("@", 1)[0], term.split(".bsky.", 1)[0]}:
            words = variant.split()
            if words:
                bodies.add(r"\s+".join(re.escape(w) for w in words))
    return sorted(bodies, key=lambda b: (-len(b), b))


def _chunks(text: str) -> list[str]:
    """Up to MAX_CHUNKS pieces of about CHUNK_CHARS, cut at whitespace where possible."""
    out: list[str] = []
    start = 0
    while start < len(text) and len(out) < MAX_CHUNKS:
        end = start + CHUNK_CHARS
        if end < len(text):
            cut = text.rfind(" ", start + CHUNK_CHARS // 2, end)
            end = cut if cut > 0 else end
        out.append(text[start:end])
        start = end
    return out


class Scorer:
    """Scores texts after masking the configured terms and handles.

    Build one per process (the pipeline does): patterns are compiled here,
    and the analyzer and language detector are process-wide singletons.
    """

    def __init__(
        self,
        terms: Iterable[str] = (),
        handles: Iterable[str] = (),
        *,
        service_lexicon: bool = True,
    ) -> None:
        self.terms = tuple(terms)
        self.handles = tuple(handles)
        bodies = _term_bodies((*self.terms, *self.handles))
        alternatives = "|".join(bodies)
        # Searched in lower-cased text; word boundaries are checked in `_mask_terms`.
        self._terms = re.compile(f"(?:{alternatives})") if bodies else None
        self._terms_ci = (
            re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
            if bodies
            else None
        )
        vader = tuned_analyzer() if service_lexicon else fast_analyzer()
        self._polarity = vader.polarity_scores

    def _mask_terms(self, text: str) -> str:
        assert self._terms is not None and self._terms_ci is not None
        low = text.lower()
        if len(low) != len(text):  # rare letters whose lower case is longer
            return self._terms_ci.sub(" ", text)
        pieces: list[str] = []
        last = 0
        end = len(low)
        for m in self._terms.finditer(low):
            a, b = m.span()
            if (a > 0 and low[a - 1].isalnum()) or (b < end and low[b].isalnum()):
                continue
            pieces.append(text[last:a])
            last = b
        if not pieces:
            return text
        pieces.append(text[last:])
        return " ".join(pieces)

    def prepare(self, text: str) -> str:
        """The text VADER sees: handles, URLs and brand/competitor terms masked, hashtags split."""
        if "://" in text or "www." in text or "WWW." in text:
            text = _URL.sub(" ", text)
        if "@" in text:
            if _has_bare_handle(text):
                text = _BARE_HANDLE.sub(" ", text)
            text = _AT_HANDLE.sub(" ", text)
        if ".bsky." in text:
            text = _BSKY.sub(" ", text)
        if "#" in text:
            text = _HASHTAG.sub(_split_hashtag_match, text)
        if self._terms is not None:
            text = self._mask_terms(text)
        return text

    def compound(self, prepared: str) -> float:
        """VADER's compound for already prepared text (long texts: mean over chunks)."""
        if len(prepared) <= CHUNK_CHARS:
            return float(self._polarity(prepared)["compound"])
        parts = _chunks(prepared)
        return round(sum(self._polarity(p)["compound"] for p in parts) / len(parts), 4)

    def score(self, text: str, lang: str | None = None) -> Sentiment:
        """Sentiment of one text; `lang` is the platform's language tag when it has one."""
        prepared = self.prepare(text)
        code = normalize_lang(lang) if lang else None
        if code is None:
            code = detect_lang(prepared)
        if code is not None and code != "en":
            return Sentiment(None, UNSCORED, code)
        if len(prepared) <= CHUNK_CHARS:  # one pass gives both compound and neg share
            scores = self._polarity(prepared)
            compound, neg = float(scores["compound"]), float(scores["neg"])
        else:
            compound, neg = self.compound(prepared), None
        return Sentiment(compound, label_for(compound), code, neg)

    def score_many(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[Sentiment]:
        """`score` over many texts (same results), with per-call lookups hoisted."""
        score = self.score
        if langs is None:
            return [score(t) for t in texts]
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} language tags")
        return [score(t, lg) for t, lg in zip(texts, langs, strict=True)]
