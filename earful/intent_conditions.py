"""What every match needs, as conditions on tokens: read off a regex's syntax tree and simplified.

Part of `earful.intent` (see `earful.intent_regex`, whose `_requirements` drives
both steps). A condition is an OR of ANDs of "some token is (or starts with) one
of these words". `_walk` carries, node by node through `earful.intent_parse`'s
tree, the requirements known so far and the current token's possible beginnings
(`_extend`, `_close`, `_word_end`, `_token_end`, `_flush`, `_merged`);
`_simplified` and `_absorb` then make the OR of the resulting terms smaller
without changing which texts satisfy it.

The cut is here because this is the algebra over atoms, groups and terms, pure
functions of hashable values (memoised while one pattern is read, `_MEMOS`):
the pattern text, the choice of alternatives and exactness stay in
`earful.intent_regex`, the syntax in `earful.intent_parse`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from earful.intent_parse import _Node

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

_Groups = frozenset[frozenset[str]]  # AND of OR-groups of atoms
_Pending = frozenset[str] | None  # None: the current token's beginning is unknown
_States = set[tuple[_Groups, _Pending]]


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
