"""earful/models.py: new_mention is Mention(...) with the same signature, result and checks."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from earful.models import Mention, new_mention

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_new_mention_takes_mentions_fields_in_order():
    params = list(inspect.signature(new_mention).parameters.values())
    fields = dataclasses.fields(Mention)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default and type(p.default) is type(f.default), f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert p.default is not inspect.Parameter.empty, f.name
        else:
            assert p.default is inspect.Parameter.empty, f.name


def all_fields(m: Mention) -> dict:
    return {f.name: getattr(m, f.name) for f in dataclasses.fields(m)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"raw": {"a": [1]}, "engagement": 7, "in_reply_to": "1", "thread_id": "2"},
        {"raw": None, "lang": "en", "author_followers": 12, "is_demo": True, "priority": 2.5},
        {"matched": "Acme", "compound": -0.4, "label": "negative", "needs_reply": True},
        {
            "fetched_at": AT,
            "source": "hn",
            "intent": "question",
            "reason": "asks",
            "native_id": "x",
        },
    ],
)
def test_new_mention_equals_the_dataclass_constructor(kwargs):
    base = {"platform": "hackernews", "external_id": "1", "url": "u", "author": "a", "text": "t"}
    a = Mention(**base, created_at=AT, **kwargs)
    b = new_mention(**base, created_at=AT, **kwargs)
    assert type(b) is Mention and a == b and all_fields(a) == all_fields(b)
    assert (a.raw is None) == (b.raw is None)
    positional = new_mention(*(getattr(a, f.name) for f in dataclasses.fields(a)))
    assert all_fields(positional) == all_fields(a)


def test_new_mention_gives_each_mention_its_own_raw():
    one = new_mention("p", "1", "u", "a", "t", AT)
    two = new_mention("p", "2", "u", "a", "t", AT)
    assert one.raw == {} and one.raw is not two.raw


@pytest.mark.parametrize(
    ("platform", "external_id", "created_at"),
    [("", "1", AT), ("p", "", AT), ("p", "1", datetime(2026, 1, 1))],
)
def test_new_mention_checks_like_mention(platform, external_id, created_at):
    with pytest.raises(ValueError) as want:
        Mention(platform, external_id, "u", "a", "t", created_at)
    with pytest.raises(ValueError) as got:
        new_mention(platform, external_id, "u", "a", "t", created_at)
    assert str(got.value) == str(want.value)


def test_new_mention_is_frozen():
    m = new_mention("p", "1", "u", "a", "t", AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.text = "x"  # type: ignore[misc]
