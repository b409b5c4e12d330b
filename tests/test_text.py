"""earful/text.py: TermSearch answers exactly what its plain case-insensitive regex answers."""

from __future__ import annotations

import random
import re

import pytest

from earful.text import TermSearch, folded

WORDY = (r"[^\W_]", r"(?![^\W_])")
HANDLE = (r"[\w@]", r"(?!\w)")
EXACT = (r"[\w]", r"(?![\w])")

PARTS = {
    "one word": [(WORDY[0], ["acme"], WORDY[1])],
    "three words": [(WORDY[0], [w], WORDY[1]) for w in ("acme", "globex", "initech")],
    "phrase and word": [(EXACT[0], ["acme", "cloud"], EXACT[1]), (WORDY[0], ["acme"], WORDY[1])],
    "handle": [(HANDLE[0], ["@initech"], HANDLE[1]), (WORDY[0], ["#acme"], WORDY[1])],
    "punctuation": [(WORDY[0], [w], WORDY[1]) for w in ("node.js", "c++", "at&t")],
    "upper-case words": [(WORDY[0], ["ACME"], WORDY[1])],
    "non-ascii words": [(WORDY[0], [w], WORDY[1]) for w in ("café", "straße", "ſtar", "k")],
    "no guards (excludes)": [("", ["acme anvil meme"], ""), ("", ["x\ty"], "")],
    "empty words": [(EXACT[0], [], EXACT[1])],
    "empty substring": [("", [""], "")],
}

# Letters that fold to ASCII under re.IGNORECASE (Kelvin sign, long s, dotless i,
# dotted I), spaces that \s matches, bidi marks, underscores and digits next to words.
PIECES = list("acmeglobxintkAKCsS _@#-.+&'\t\n\x1c\xa0\u202e1") + [
    "acme",
    "ACME",
    "Acme",
    "cloud",
    "globex",
    "initech",
    "node.js",
    "c++",
    "at&t",
    "café",
    "CAFÉ",
    "straße",
    "STAR",
    "\u212a",
    "\u017f",
    "\u0131",
    "\u0130",
    "anvil",
    "meme",
    "x\ty",
]


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 10))) for _ in range(n)]


@pytest.mark.parametrize("name", PARTS)
def test_search_is_the_plain_regex(name):
    parts = PARTS[name]
    plain = re.compile(
        "|".join(
            (f"(?<!{b})" if b else "") + r"\s+".join(re.escape(w) for w in words) + a
            for b, words, a in parts
        ),
        re.IGNORECASE,
    )
    found = TermSearch(parts)
    assert found.pattern.pattern == plain.pattern
    sample = texts(6000, seed=len(name))
    expected = [plain.search(t) is not None for t in sample]
    assert [found.search(t) for t in sample] == expected
    assert [found.search_folded(t, folded(t)) for t in sample] == expected
    assert any(expected) and not all(expected) or name == "empty substring"


def test_shortcut_cases():
    acme = TermSearch([PARTS["one word"][0]])
    assert acme.search("I love ACME!") and acme.search("#acme") and acme.search("acme_corp")
    assert not acme.search("acmecorp") and not acme.search("xacme") and not acme.search("")
    assert acme.search("xacme acme")  # the second place is confirmed after the first fails
    assert acme.search("café acme")  # non-ASCII text goes the plain way
    k = TermSearch([(WORDY[0], ["k"], WORDY[1])])
    assert k.search("\u212a") and k.search("K")  # Kelvin sign folds to k under IGNORECASE
    s = TermSearch([(WORDY[0], ["star"], WORDY[1])])
    assert s.search("\u017ftar")  # long s folds to s


def test_folded():
    assert folded("Acme Cloud") == "acme cloud"
    assert folded("Café") is None
    assert folded("") == ""
