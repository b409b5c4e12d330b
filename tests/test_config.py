"""Config validation: every error names the file, the key and what is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from earful.config import ConfigError, load_settings, parse_duration, split_terms
from earful.matching import Matcher

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[brand]
name = "Acme"
terms = ["acme", "\\"acme cloud\\""]
exclude = ["acme anvil meme"]
handles = ["@acme"]

[competitors]
Globex = ["globex"]

[[sources]]
platform = "demo"
every = "90s"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "earful.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads(tmp_path):
    s = load_settings(write(tmp_path, GOOD), environ={})
    assert s.brand.name == "Acme"
    assert s.sources[0].every == timedelta(seconds=90)
    assert s.sources[0].backfill == timedelta(days=7)
    assert s.sources[0].key == "demo"
    assert list(s.entities()) == ["Acme", "Globex"]


def test_example_config_in_repo_is_valid():
    s = load_settings(ROOT / "earful.toml", environ={})
    assert s.brand.name and s.sources
    assert len({src.key for src in s.sources}) == len(s.sources)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '\n[[sources]]\nplatform = "myspace"\n',
            "sources[1].platform: unknown platform 'myspace'",
        ),
        (
            '\n[[sources]]\nplatform = "demo"\nevery = "5 minutes"\n',
            "sources[1].every: '5 minutes' is not a duration",
        ),
        ('\n[[sources]]\nplatform = "demo"\nevery = "0s"\n', "sources[1].every:"),
        ('\n[[sources]]\nplatform = "demo"\nbogus_key = 1\n', "sources[1].bogus_key:"),
        (
            '\n[dashboard]\ntimezone = "Mars/Olympus"\n',
            "dashboard.timezone: 'Mars/Olympus' is not an IANA timezone",
        ),
        (
            '\n[alerts]\nwebhook_url_env = "NOPE_HOOK"\n',
            "alerts.webhook_url_env: environment variable NOPE_HOOK is not set",
        ),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path, extra, expected):
    p = write(tmp_path, GOOD + extra)
    with pytest.raises(ConfigError) as err:
        load_settings(p, environ={})
    msg = str(err.value)
    assert msg.startswith(f"{p}: ")
    assert expected in msg
    assert "\n" not in msg


def test_toml_syntax_error_names_the_file(tmp_path):
    p = write(tmp_path, GOOD + "\n[brand\n")
    with pytest.raises(ConfigError, match=rf"^{p}: TOML syntax error"):
        load_settings(p, environ={})


def test_missing_brand_terms(tmp_path):
    p = write(tmp_path, '[brand]\nname = "Acme"\nterms = []\n')
    with pytest.raises(ConfigError, match=r"brand\.terms"):
        load_settings(p, environ={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secret_variable_from_environment_or_secrets_file(tmp_path, monkeypatch):
    from listeners import REGISTRY

    platform = next((p for p in ("mastodon", "x") if p in REGISTRY), None)
    if platform is None:
        pytest.skip("no listener with a token option is registered yet")
    text = GOOD + f'\n[[sources]]\nplatform = "{platform}"\ntoken_env = "EARFUL_T_TOKEN"\n'
    if platform == "mastodon":
        text += 'hashtags = ["acme"]\n'
    p = write(tmp_path, text)
    with pytest.raises(
        ConfigError,
        match=r"sources\[1\]\.token_env: environment variable EARFUL_T_TOKEN is not set",
    ):
        load_settings(p, environ={})
    assert load_settings(p, environ={"EARFUL_T_TOKEN": "x"}).sources[1].platform == platform
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('EARFUL_T_TOKEN = "from-secrets"\n')
    monkeypatch.delenv("EARFUL_T_TOKEN", raising=False)
    s = load_settings(p, secrets_path=secrets)
    assert s.secret("EARFUL_T_TOKEN") == "from-secrets"
    assert "from-secrets" not in repr(s)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800), ("2w", 1209600), (45, 45)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_split_terms_quotes_mean_exact_phrase():
    assert split_terms(["acme", '"acme cloud"', "  "]) == [("acme", False), ("acme cloud", True)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme is down again", "Acme"),
        ("@acme why is my order late", "Acme"),
        ("#AcmeFail? no, #acme", "Acme"),
        ("Loving ACME CLOUD today", "Acme"),
        ("acmecorp is unrelated", None),
        ("globex beats everyone", "Globex"),
        ("globex vs acme", "Acme"),
        ("that acme anvil meme again", None),
        ("@initech support is slow", "Initech"),
    ],
)
def test_matcher(settings, text, expected):
    assert Matcher.from_settings(settings).match(text) == expected
