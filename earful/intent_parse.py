"""The regex syntax tree behind the prefilter: `_parse` reads a signal pattern into nodes.

Part of `earful.intent` (see `earful.intent_regex` for what the tree is for).
`_parse` knows only the regex syntax the signals use (literals, classes, groups,
lookarounds, quantifiers) and raises ValueError on anything else, so a new
pattern fails at import instead of getting a wrong condition.

The cut is here because parsing is pure syntax, with no idea of tokens or
conditions: `earful.intent_conditions` walks the nodes it returns, and
`earful.intent_regex` splits a pattern's alternatives with it.
"""

from __future__ import annotations

from typing import Any

_Node = tuple[Any, ...]


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
