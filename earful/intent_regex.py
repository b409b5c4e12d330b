"""What every match of a signal regex needs: the regex analysis behind the prefilter.

Part of `earful.intent` (see its docstring). Two jobs, both run once at import
over the hand-written patterns of `earful.intent_signals`:

- Reading the pattern text (`_spaced`, `_top`, `_words_out`, `_auto_keys`):
  single-word alternatives are taken out of a pattern as set lookups, prefilter
  keys are read off its leading words, and an opening \\b becomes a space for
  the spaced text `normalise` makes.
- `_requirements`: an OR of ANDs of "some token is (or starts with) one of these
  words" that every match of a pattern satisfies, read off its syntax tree
  (`_parse`, `_walk`) and simplified (`_simplified`, `_absorb`). `earful.intent_scan`
  turns those conditions into bits, so a regex runs only when one holds.

`_parse` knows only the regex syntax the signals use and raises ValueError on
anything else, so a new pattern fails at import instead of getting a wrong
condition. The analysis costs about 0.1 s at import; the pure steps are
memoised while one pattern is read (`_MEMOS`), which made it about 5x cheaper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

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


# A requirement is a set of atoms: "\x02word" means a token equals word; any other
# string means a token starts with it; "\x01" means a token starts with a digit.
# While a regex is read, the current token's possible beginnings are "pending"
# strings; one ending in _CLOSED or _EXACT is complete (the token goes on with
# something unknown, or ends there).
_CLOSED = "\x00"
_EXACT = "\x02"
_DIGIT = "\x01"
_MAX_PENDING = 64  # more possible beginnings than this: keep what is known and close them
_MAX_STATES = 256  # more partial conditions than this: keep only what they share

_Node = tuple[Any, ...]
_Groups = frozenset[frozenset[str]]  # AND of OR-groups of atoms
_Pending = frozenset[str] | None  # None: the current token's beginning is unknown
_States = set[tuple[_Groups, _Pending]]


def _parse(p: str) -> tuple[list[list[_Node]], list[list[str]]]:
    """The top-level alternatives of regex p as node lists (the syntax the signals use),
    and each node's source text.

    Nodes: ("lit", char), ("cls", kind, chars) with kind space | mixed | chars |
    digit | word, ("alt", branches, their sources), ("rep", node, min, max) with
    max -1 for no limit, ("zero", "b" or "") for zero-width assertions.
    """
    pos = 0

    def alternatives() -> tuple[list[list[_Node]], list[str], list[list[str]]]:
        nonlocal pos
        branches: list[list[_Node]] = [[]]
        sources: list[list[str]] = [[]]
        start = pos
        spans: list[str] = []
        while pos < len(p) and p[pos] != ")":
            if p[pos] == "|":
                spans.append(p[start:pos])
                branches.append([])
                sources.append([])
                pos += 1
                start = pos
            else:
                begin = pos
                branches[-1].append(quantified(atom()))
                sources[-1].append(p[begin:pos])
        spans.append(p[start:pos])
        return branches, spans, sources

    def close_group() -> None:
        nonlocal pos
        if not p.startswith(")", pos):
            raise ValueError(f"unbalanced group in {p!r}")
        pos += 1

    def escape(e: str) -> _Node:
        if e == "b":
            return ("zero", "b")
        if e in "BAZ":
            return ("zero", "")
        kinds = {"s": "space", "d": "digit", "w": "word", "S": "word", "W": "mixed", "D": "mixed"}
        if e in kinds:
            return ("cls", kinds[e], frozenset())
        if e.isalnum():
            raise ValueError(f"unsupported escape \\{e} in {p!r}")
        return ("lit", e)

    def char_class() -> _Node:
        nonlocal pos
        pos += 1
        negated = p.startswith("^", pos)
        pos += negated
        chars: set[str] = set()
        kinds: set[str] = set()
        first = True
        while first or p[pos] != "]":
            first = False
            if p[pos] == "\\":
                node = escape(p[pos + 1])
                pos += 2
                if node[0] == "lit":
                    chars.add(node[1])
                else:
                    kinds.add(node[1])
            elif p[pos + 1] == "-" and p[pos + 2] != "]":
                chars.update(map(chr, range(ord(p[pos]), ord(p[pos + 2]) + 1)))
                pos += 3
            else:
                chars.add(p[pos])
                pos += 1
        pos += 1
        spaces = {c for c in chars if c.isspace()}
        if negated or "mixed" in kinds:
            return ("cls", "mixed", frozenset())
        if "space" in kinds or spaces:
            only = kinds <= {"space"} and spaces == chars
            return ("cls", "space" if only else "mixed", frozenset())
        if kinds:
            return ("cls", "digit" if kinds == {"digit"} and not chars else "word", frozenset())
        return (
            ("cls", "chars", frozenset(chars)) if len(chars) <= 8 else ("cls", "word", frozenset())
        )

    def atom() -> _Node:
        nonlocal pos
        c = p[pos]
        if c == "(":
            for opening in ("(?=", "(?!", "(?<=", "(?<!"):
                if p.startswith(opening, pos):
                    pos += len(opening)
                    alternatives()
                    close_group()
                    return ("zero", "")
            if p.startswith("(?:", pos):
                pos += 3
            elif p.startswith("(?", pos):
                raise ValueError(f"unsupported group in {p!r}")
            else:
                pos += 1
            inner, spans, _ = alternatives()
            close_group()
            return ("alt", inner, spans)
        if c == "[":
            return char_class()
        if c == "\\":
            pos += 2
            return escape(p[pos - 1])
        if c in "*+?{":
            raise ValueError(f"unexpected {c!r} in {p!r}")
        pos += 1
        if c == ".":
            return ("cls", "mixed", frozenset())
        return ("zero", "") if c in "^$" else ("lit", c)

    def quantified(node: _Node) -> _Node:
        nonlocal pos
        if pos >= len(p) or p[pos] not in "?*+{":
            return node
        c = p[pos]
        pos += 1
        if c == "{":
            end = p.index("}", pos)
            low, comma, high = p[pos:end].partition(",")
            pos = end + 1
            lo = int(low or 0)
            hi = lo if not comma else int(high) if high else -1
        else:
            lo, hi = {"?": (0, 1), "*": (0, -1), "+": (1, -1)}[c]
        if pos < len(p) and p[pos] in "?+":
            pos += 1  # lazy or possessive: the same texts match
        return ("rep", node, lo, hi)

    out, _, sources = alternatives()
    if pos != len(p):
        raise ValueError(f"unbalanced ) in {p!r}")
    return out, sources


def _complete(q: str) -> bool:
    return q.endswith((_CLOSED, _EXACT))


@cache
def _extend(pending: _Pending, chars: Iterable[str]) -> _Pending:
    if pending is None:
        return None
    out = frozenset(q if _complete(q) else q + c for q in pending for c in chars)
    return _close(out) if len(out) > _MAX_PENDING else out


@cache
def _close(pending: _Pending) -> _Pending:
    if pending is None:
        return None
    return frozenset(q if _complete(q) else q + _CLOSED for q in pending)


@cache
def _digit(pending: _Pending) -> _Pending:
    if pending is None:
        return None
    return frozenset(
        _DIGIT + _CLOSED if q == "" else q if _complete(q) else q + _CLOSED for q in pending
    )


@cache
def _word_end(pending: _Pending) -> _Pending:
    """At \\b: a run of ASCII letters from a token's start is the whole token
    (a token that starts with a letter is a maximal run of letters)."""
    if pending is None:
        return None
    return frozenset(
        q + _EXACT if q and not _complete(q) and q.isascii() and q.isalpha() else q for q in pending
    )


@cache
def _token_end(pending: _Pending) -> _Pending:
    """At a space: the token is exactly what was read since its start."""
    if pending is None:
        return None
    return frozenset(q + _EXACT if q and not _complete(q) else q for q in pending)


def _atom(q: str) -> str:
    return _EXACT + q[:-1] if q.endswith(_EXACT) else q.rstrip(_CLOSED)


def _minimal(atoms: Iterable[str]) -> frozenset[str]:
    """atoms without those another one implies ("hour" makes "hours" redundant)."""
    atoms = set(atoms)
    prefixes = [b for b in atoms if not b.startswith(_EXACT)]
    return frozenset(
        a for a in atoms if not any(b != a and a.lstrip(_EXACT).startswith(b) for b in prefixes)
    )


def _flush(groups: _Groups, pending: _Pending) -> _Groups:
    """groups and the current token's possible beginnings as one more OR-group."""
    group = _group(pending)
    return groups if group is None else groups | {group}


@cache
def _group(pending: _Pending) -> frozenset[str] | None:
    """The current token's possible beginnings as an OR-group; None if it may begin with anything."""
    if pending is None:
        return None
    atoms = {_atom(q) for q in pending}
    if "" in atoms or _EXACT in atoms:
        return None
    return _minimal(atoms)


def _may_be_space(node: _Node) -> bool:
    kind = node[0]
    if kind == "lit":
        return bool(node[1].isspace())
    if kind == "cls":
        return node[1] in ("space", "mixed")
    if kind == "alt":
        return any(_may_be_space(n) for branch in node[1] for n in branch)
    return kind == "rep" and _may_be_space(node[1])


def _is_space(node: _Node) -> bool:
    return (node[0] == "lit" and node[1].isspace()) or node[:2] == ("cls", "space")


def _merged(states: _States) -> _States:
    """States with the same groups merged (their pending beginnings joined)."""
    by_groups: dict[_Groups, _Pending] = {}
    for groups, pending in states:
        if groups in by_groups:
            known = by_groups[groups]
            by_groups[groups] = None if known is None or pending is None else known | pending
        else:
            by_groups[groups] = pending
    if len(by_groups) <= _MAX_STATES:
        return set(by_groups.items())
    shared = frozenset.intersection(*by_groups)
    pendings = list(by_groups.values())
    if any(q is None for q in pendings):
        return {(shared, None)}
    return {(shared, frozenset().union(*(q for q in pendings if q is not None)))}


def _walk(states: _States, node: _Node) -> _States:
    """The states after node: each a possible (requirements so far, current token's beginnings)."""
    kind = node[0]
    if kind == "zero":
        return {(g, _word_end(q)) for g, q in states} if node[1] == "b" else states
    if _is_space(node):
        return {(_flush(g, _token_end(q)), frozenset({""})) for g, q in states}
    if kind == "lit":
        return {(g, _extend(q, node[1])) for g, q in states}
    if kind == "cls":
        if node[1] == "mixed":
            return {(_flush(g, q), None) for g, q in states}
        if node[1] == "chars":
            return {(g, _extend(q, node[2])) for g, q in states}
        if node[1] == "digit":
            return {(g, _digit(q)) for g, q in states}
        return {(g, _close(q)) for g, q in states}
    if kind == "alt":
        out: _States = set()
        for branch in node[1]:
            out |= _walk_all(states, branch)
        return _merged(out)
    inner, lo, hi = node[1], node[2], node[3]
    if hi == 0:
        return states
    once = _walk(states, inner)
    result = set(once) if lo >= 1 else states | once
    if hi != 1:  # more repetitions: same token continues (closed), or unknown after a space
        if _is_space(inner):
            result |= once
        elif not _may_be_space(inner):
            result |= {(g, _close(q)) for g, q in once}
        else:
            result |= {(_flush(g, q), None) for g, q in once}
    return _merged(result)


def _walk_all(states: _States, nodes: list[_Node]) -> _States:
    for node in nodes:
        states = _walk(states, node)
    return states


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


def _sorted(conditions: Iterable[_Groups]) -> list[_Groups]:
    return sorted(conditions, key=_order)


@cache
def _order(c: _Groups) -> tuple[tuple[str, ...], ...]:
    """A term's sort key: its groups' sorted atoms, sorted (a stable order across runs)."""
    return tuple(sorted(map(_group_order, c)))


@cache
def _group_order(g: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(g))


def _simplified(conditions: dict[_Groups, frozenset[int]]) -> list[tuple[_Groups, frozenset[int]]]:
    """The same OR of conditions with fewer terms: a weaker term absorbs a stronger one,
    and two that differ in one group become one with the groups joined (the
    alternatives that need them are joined too). Rounds of: every absorption, then
    every merge of a pair found through its shared part (a term minus one group)."""
    conditions = dict(conditions)
    while True:
        _absorb(conditions)
        shared: dict[_Groups, _Groups] = {}
        merged = False
        for a in _sorted(conditions):
            if a not in conditions:
                continue
            for g in sorted(a, key=_group_order):
                rest = a - {g}
                b = shared.get(rest)
                if b is None or b not in conditions:
                    shared[rest] = a
                    continue
                (only_b,) = b - rest
                alts = conditions.pop(a) | conditions.pop(b)
                joined = rest | {_minimal(g | only_b)}
                conditions[joined] = conditions.get(joined, frozenset()) | alts
                merged = True
                break
        if not merged:
            return [(c, conditions[c]) for c in _sorted(conditions)]


def _absorb(conditions: dict[_Groups, frozenset[int]]) -> None:
    """Drop each term that implies another (it has all of the other's groups),
    giving its alternatives to that weaker term."""
    by_group: dict[frozenset[str], list[_Groups]] = {}
    for d in conditions:  # each term filed under one of its groups
        if d:
            by_group.setdefault(min(d, key=_group_order), []).append(d)
    for c in sorted(conditions, key=lambda c: (len(c), _order(c))):
        if c not in conditions:
            continue
        empty: _Groups = frozenset()
        weaker: _Groups | None = empty if empty in conditions and c else None
        if weaker is None:
            weaker = next(
                (
                    d
                    for g in c
                    for d in by_group.get(g, ())
                    if d != c and d <= c and d in conditions
                ),
                None,
            )
        if weaker is not None:
            conditions[weaker] |= conditions.pop(c)


# Pure functions of hashable arguments, memoised while a pattern is read: the same
# few beginnings and terms recur thousands of times in a long alternation.
_MEMOS = (_extend, _close, _digit, _word_end, _token_end, _group, _order, _group_order)
