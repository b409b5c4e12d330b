"""What every match of a signal regex needs: the regex analysis behind the prefilter.

Part of `earful.intent` (see its docstring). Two jobs, both run once at import
over the hand-written patterns of `earful.intent_signals`:

- Reading the pattern text (`_spaced`, `_top`, `_words_out`, `_auto_keys`):
  single-word alternatives are taken out of a pattern as set lookups, prefilter
  keys are read off its leading words, and an opening \\b becomes a space for
  the spaced text `normalise` makes.
- `_requirements`: an OR of ANDs of "some token is (or starts with) one of these
  words" that every match of a pattern satisfies, read off its syntax tree
  (`earful.intent_parse`) and simplified (`earful.intent_conditions`).
  `earful.intent_scan` turns those conditions into bits, so a regex runs only
  when one holds.

`earful.intent_parse` raises ValueError on regex syntax the signals do not
use, so a new pattern fails at import instead of getting a wrong condition. The analysis costs about 0.1 s at import; the pure steps are
memoised while one pattern is read (`_MEMOS`), which made it about 5x cheaper.

The cut is here because this module works on the pattern as text and decides
per alternative (split, exact or not), while the syntax tree and the algebra of
conditions are pure steps it calls: `earful.intent_parse` and
`earful.intent_conditions`. `_EXACT` and `_DIGIT` are re-exported from the latter.
"""

from __future__ import annotations

import re

from earful.intent_conditions import _DIGIT as _DIGIT
from earful.intent_conditions import _EXACT as _EXACT
from earful.intent_conditions import _MEMOS, _flush, _Groups, _simplified, _sorted, _walk_all
from earful.intent_parse import _Node, _parse

_KEY_LEN = 4


def _key(k: str) -> str:
    """A prefilter key: the first word of k cut to _KEY_LEN characters.

    Tokens of the text are cut the same way, so "disappointed" hits "disa" and a
    shorter key ("no", "bug") only hits that exact token.
    """
    return k.split()[0][:_KEY_LEN]


def _spaced(pattern: str) -> str:
    """The pattern for spaced text: each top-level alternative's leading \\b becomes a space.

    `normalise` puts exactly one space around every token, so " word" marks a
    word start. A pattern opening with a literal lets the regex engine skip
    ahead by that character; an opening \\b makes a search several times slower.
    """
    out: list[str] = []
    depth, i, start = 0, 0, True
    while i < len(pattern):
        if start and pattern.startswith("\\b", i):
            out.append(" ")
            i += 2
        start = False
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        start = c == "|" and depth == 0
        out.append(c)
        i += 1
    return "".join(out)


def _top(pattern: str) -> list[str]:
    """pattern split at its top-level "|" (outside groups and classes)."""
    parts: list[str] = []
    depth, i, start, in_class = 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _one_group(alt: str) -> bool:
    """Whether alt is exactly `\\b(?:...)\\b`, one group from the first "(" to the last ")"."""
    if not (alt.startswith("\\b(?:") and alt.endswith(")\\b")):
        return False
    depth, i = 0, 2
    while i < len(alt):
        c = alt[i]
        if c == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return i == len(alt) - 3
        i += 1
    return False


_WORD_ALT = re.compile(r"[a-z]+")
_PLURAL_ALT = re.compile(r"([a-z]+)s\?")
_PREFIX_ALT = re.compile(r"([a-z]{4,})\\w\*")
_LEAD = re.compile(r"(?:\\b)?([a-z]+)([ ?*+{(\\]|$)")


def _words_out(pattern: str) -> tuple[set[str], list[str], str]:
    """(words, prefixes, rest): single-word alternatives of `\\b(?:a|b|c*)\\b` groups
    taken out of the pattern (a set lookup is far cheaper than a regex scan)."""
    words: set[str] = set()
    prefixes: list[str] = []
    rest: list[str] = []
    for alt in _top(pattern):
        if not (_one_group(alt) and len(_top(alt[5:-3])) > 1):
            rest.append(alt)
            continue
        inner: list[str] = []
        for a in _top(alt[5:-3]):
            if _WORD_ALT.fullmatch(a):
                words.add(a)
            elif m := _PLURAL_ALT.fullmatch(a):
                words.update((m[1], m[1] + "s"))
            elif m := _PREFIX_ALT.fullmatch(a):
                prefixes.append(m[1])
            else:
                inner.append(a)
        if inner:
            rest.append("\\b(?:" + "|".join(inner) + ")\\b")
    return words, prefixes, "|".join(rest)


def _auto_keys(pattern: str) -> frozenset[str] | None:
    """Prefilter keys from the leading word of every alternative, or None if one has none."""
    keys: set[str] = set()
    for alt in _top(pattern):
        if _one_group(alt):
            alts = _top(alt[5:-3])
        else:
            alts = [alt]
        for a in alts:
            m = _LEAD.match(a)
            if not m:
                return None
            word = m[1] if m[2] in (" ", "", "\\") else m[1][:-1]
            if len(word) < _KEY_LEN and m[2] not in (" ", "") and not a.startswith(word + "\\b"):
                return None  # a short word with a suffix: only the hand-written keys are safe
            keys.add(word[:_KEY_LEN])
    return frozenset(keys)


def _one_token(nodes: list[_Node]) -> bool:
    """Whether nodes read literal characters only: no space, class, assertion or loop."""
    for n in nodes:
        kind = n[0]
        if (kind == "lit" and n[1].isspace()) or kind == "zero":
            return False
        if kind == "cls" and n[1] != "chars":
            return False
        if kind == "alt" and not all(_one_token(b) for b in n[1]):
            return False
        if kind == "rep" and not (n[2] == 0 and n[3] == 1 and _one_token([n[1]])):
            return False
    return True


def _alternatives(pattern: str) -> list[tuple[list[_Node], str]]:
    """The top-level alternatives of the spaced pattern, each with its source; a group
    right after the leading space is split over its branches (" (?:a|b)c" gives
    " (?:a)c" and " (?:b)c": the same matches, tried in the same order)."""
    out: list[tuple[list[_Node], str]] = []
    for nodes, sources in zip(*_parse(pattern), strict=True):
        group = nodes[1] if len(nodes) > 1 and nodes[0] == ("lit", " ") else None
        if group and group[0] == "alt" and sources[1].startswith("(?:"):
            rest = "".join(sources[2:])
            for branch, source in zip(group[1], group[2], strict=True):
                out.append(([nodes[0], *branch, *nodes[2:]], f" (?:{source}){rest}"))
        else:
            out.append((nodes, "".join(sources)))
    return out


_Condition = tuple[_Groups, bool, frozenset[int]]


def _requirements(pattern: str) -> tuple[list[_Condition], list[str]] | None:
    """What every match of the spaced pattern needs, and the alternatives it was split
    into (see `_alternatives`). Each condition: (AND of OR-groups, exact, which
    alternatives need it); a match of one of those needs it to hold. Exact: it is
    also enough for a match. None for a pattern that never matches."""
    try:
        return _requirements_of(pattern)
    finally:
        # The memos pay off within one pattern; kept, they would hold some MB for nothing.
        for memo in _MEMOS:
            memo.cache_clear()


def _requirements_of(pattern: str) -> tuple[list[_Condition], list[str]] | None:
    if pattern == "(?!)":
        return None
    needed: dict[_Groups, frozenset[int]] = {}
    exact: set[_Groups] = set()
    alternatives = _alternatives(pattern)
    for n, (alt, _) in enumerate(alternatives):
        found = {_flush(g, q) for g, q in _walk_all({(frozenset(), None)}, alt)}
        ends = alt[-1][:2] == ("zero", "b")
        body = alt[1:-1] if ends else alt[1:]
        if alt[0][:2] == ("lit", " ") and body and _one_token(body) and len(found) == 1:
            # one token right after a space: the condition is exact, unless \b had to
            # end a run that is not all letters.
            (groups,) = found
            if len(groups) == 1 and (not ends or all(a[0] == _EXACT for g in groups for a in g)):
                exact.add(groups)
                continue
        for groups in found:
            needed[groups] = needed.get(groups, frozenset()) | {n}
    conditions = [(g, False, alts) for g, alts in _simplified(needed)]
    conditions += [(g, True, frozenset()) for g in _sorted(exact)]
    return conditions, [source for _, source in alternatives]
