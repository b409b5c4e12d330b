"""Meta-tests: every listener is registered, described, tested and has fixtures."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT
from pydantic import ValidationError

from listeners import REGISTRY
from listeners.base import Listener

MODULES = sorted(
    p.stem
    for p in (ROOT / "listeners").glob("*.py")
    if not p.stem.startswith("_") and p.stem != "base"
)


def test_every_listener_module_is_registered():
    registered = {cls.__module__.rsplit(".", 1)[-1] for cls in REGISTRY.values()}
    assert set(MODULES) == registered, "a listener module is missing from listeners.REGISTRY"


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_listener_has_fixtures_and_a_test_module(platform):
    folder = FIXTURES / platform
    assert folder.is_dir() and any(folder.iterdir()), f"tests/fixtures/{platform}/ is missing"
    assert (ROOT / "tests" / f"test_{platform}.py").is_file(), (
        f"tests/test_{platform}.py is missing"
    )


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_listener_describes_itself(platform):
    cls = REGISTRY[platform]
    assert issubclass(cls, Listener) and cls.platform == platform
    module = importlib.import_module(cls.__module__)
    assert Path(inspect.getfile(module)).stem == platform, "the file name is the platform"
    doc = (module.__doc__ or "").lower()
    for word in ("endpoint", "auth", "limit", "cursor"):
        assert word in doc, f"listeners/{platform}.py docstring does not state its {word}"
    assert len(cls.sees) > 30 and cls.sees.endswith("."), "`sees` is one honest sentence"
    if cls.needs_network:
        assert callable(getattr(module, "parse", None)), "a network listener has a pure parse()"
        assert cls.default_base_url or "url" in cls.Options.model_fields


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_options_reject_unknown_keys(platform):
    with pytest.raises(ValidationError):
        REGISTRY[platform].Options.model_validate({"no_such_option_anywhere": 1})
