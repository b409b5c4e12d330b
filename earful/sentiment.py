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
`Scorer` uses `tuned_analyzer()`: a `FastVader` (`earful.vader`: VADER's exact
scores, with its rules run only at the lexicon words) with a small set of
customer-service valences (`SERVICE_VALENCE`) from general language
knowledge. Each is built once per process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import repeat
from typing import NamedTuple

import wordninja
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from earful.lang import detect_lang, normalize_lang
from earful.vader import FastVader

__all__ = [
    "CHUNK_CHARS",
    "SERVICE_VALENCE",
    "FastVader",
    "Scorer",
    "Sentiment",
    "analyzer",
    "fast_analyzer",
    "label_for",
    "split_hashtag",
    "tuned_analyzer",
]

POSITIVE = 0.05
NEGATIVE = -0.05
UNSCORED = "unscored"

# Plain VADER's cost grows with the square of a text's length (100 KB takes
# ~20 s); FastVader's "but" rule is still quadratic in the number of sentiment
# words. Long texts are scored in chunks of about this size and the chunk
# compounds averaged, as VADER's authors suggest for paragraphs.
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


class Sentiment(NamedTuple):
    """A text's sentiment: immutable, compared by value, read by attribute.

    A named tuple rather than a dataclass: building one is most of the cost
    of scoring a short post once VADER itself is cheap.
    """

    compound: float | None
    label: str
    lang: str | None
    neg: float | None = None  # VADER's share of negative words (None when not measured)


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """The plain VADER analyzer of this process (the baseline)."""
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def fast_analyzer() -> FastVader:
    """`FastVader` with VADER's own lexicon (for comparisons: same scores as `analyzer()`)."""
    return FastVader()


@lru_cache(maxsize=1)
def tuned_analyzer() -> FastVader:
    """VADER with `SERVICE_VALENCE` added: the analyzer `Scorer` uses, one per process."""
    return FastVader(SERVICE_VALENCE)


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
# A '#' after a letter, digit, '_', '&' or '#' is no hashtag (C#, &#39;, a#b); the
# look-behind comes after the literal '#' so that `re` still skips ahead to it.
_HASHTAG = re.compile(r"#(?<![\w&#]#)([^\W_]\w*)")
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
    return " " + split_hashtag(m[1]) + " "


def _has_bare_handle(text: str) -> bool:
    """Whether some '@' follows a word character (user@instance, e-mail)."""
    i = text.find("@")
    while i != -1:
        if i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._+-"):
            return True
        i = text.find("@", i + 1)
    return False


def _term_bodies(terms: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Regex bodies for terms and handles, longest first ("acme cloud" before "acme"), with their words."""
    bodies: dict[str, tuple[str, ...]] = {}
    for term in terms:
        term = term.strip().strip('"').lstrip("@#").lower()
        for variant in {term, term.split("@", 1)[0], term.split(".bsky.", 1)[0]}:
            words = variant.split()
            if words:
                bodies[r"\s+".join(re.escape(w) for w in words)] = tuple(words)
    return sorted(bodies.items(), key=lambda b: (-len(b[0]), b[0]))


# Up to this many one-word terms are found with str.find rather than a regex.
MAX_LITERAL_TERMS = 16


def _literal_spans(low: str, literals: Sequence[str]) -> list[tuple[int, int]]:
    """The spans `re.finditer` finds for the alternation of `literals`, in that order.

    Left to right, non-overlapping; where several start at the same place the
    first in `literals` wins, as in a regex alternation.
    """
    spans: list[tuple[int, int]] = []
    present = list(filter(low.__contains__, literals)) if len(literals) > 1 else literals
    if len(present) == 1:  # the usual case: one term, found left to right
        lit = present[0]
        n = len(lit)
        j = low.find(lit)
        while j != -1:
            spans.append((j, j + n))
            j = low.find(lit, j + n)
        return spans
    pos = 0
    while present:
        start, lit = -1, ""
        for candidate in present:
            j = low.find(candidate, pos)
            if j != -1 and (start == -1 or j < start):
                start, lit = j, candidate
        if start == -1:
            break
        pos = start + len(lit)
        spans.append((start, pos))
    return spans


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
        found = _term_bodies((*self.terms, *self.handles))
        bodies = [body for body, _ in found]
        alternatives = "|".join(bodies)
        # One-word terms (the usual case): found with str.find, same spans as the regex.
        self._literals: list[str] | None = (
            [words[0] for _, words in found]
            if len(found) <= MAX_LITERAL_TERMS and all(len(words) == 1 for _, words in found)
            else None
        )
        # Searched in lower-cased text; word boundaries are checked in `_mask_terms`.
        self._terms = re.compile(f"(?:{alternatives})") if bodies else None
        self._terms_ci = (
            re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
            if bodies
            else None
        )
        vader = tuned_analyzer() if service_lexicon else fast_analyzer()
        self._polarity = vader.polarity_scores
        self._shared = vader.shared_scores

    def _mask_terms(self, text: str) -> str:
        assert self._terms is not None and self._terms_ci is not None
        low = text.lower()
        if len(low) != len(text):  # rare letters whose lower case is longer
            return self._terms_ci.sub(" ", text)
        pieces: list[str] = []
        last = 0
        end = len(low)
        if self._literals is not None:
            spans: Iterable[tuple[int, int]] = _literal_spans(low, self._literals)
        else:
            spans = (m.span() for m in self._terms.finditer(low))
        for a, b in spans:
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
        return self.score_many((text,), (lang,))[0]

    def score_many(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[Sentiment]:
        """Sentiments of many texts (`langs`: their platforms' language tags, if any).

        Text another language than English is unscored; short text is scored
        in one pass giving both compound and negative share, long text in
        chunks (compound only).
        """
        tags: Iterable[str | None] = repeat(None, len(texts)) if langs is None else langs
        if langs is not None and len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} language tags")
        prepare = self.prepare
        shared = self._shared
        new = tuple.__new__
        out: list[Sentiment] = []
        append = out.append
        for text, lang in zip(texts, tags, strict=True):
            prepared = prepare(text)
            code = normalize_lang(lang) if lang else None
            if code is None:
                code = detect_lang(prepared)
            if code is not None and code != "en":
                append(new(Sentiment, (None, UNSCORED, code, None)))
                continue
            neg: float | None
            if len(prepared) <= CHUNK_CHARS:  # one pass gives both compound and neg share
                scores = shared(prepared)
                compound, neg = scores["compound"], scores["neg"]
            else:
                compound, neg = self.compound(prepared), None
            if compound >= POSITIVE:
                label = "positive"
            elif compound <= NEGATIVE:
                label = "negative"
            else:
                label = "neutral"
            append(new(Sentiment, (compound, label, code, neg)))
        return out
