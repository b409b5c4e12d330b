"""earful.toml -> validated settings, with one clear line per error.

The file shape is a contract (see earful.toml): `[brand]`, `[competitors]`,
`[[sources]]`, plus `[sla]`, `[dashboard]`, `[alerts]`, `[[canned_replies]]`.
Every error names the file, the key and what is wrong, e.g.
``earful.toml: sources[2].every: "5 minutes" is not a duration like 30s, 5m, 1h, 7d``.

Secrets are never in the file: a source names an environment variable
(`token_env = "MASTODON_TOKEN"`) and the value comes from the environment or
`.streamlit/secrets.toml`. Values are never stored in the database or logged.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG = "earful.toml"
DEFAULT_SECRETS = Path(".streamlit") / "secrets.toml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A config problem, already phrased as ``file: key: what is wrong``."""


def parse_duration(value: str | int | float) -> timedelta:
    """'30s', '5m', '1h', '7d', '2w' (or a number of seconds) -> timedelta."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 1h, 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration like 30s, 5m, 1h, 7d")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return timedelta(seconds=seconds)


def split_terms(terms: list[str]) -> list[tuple[str, bool]]:
    """Configured terms -> (text, exact_phrase). `"acme cloud"` (quoted) is an exact phrase."""
    out = []
    for t in terms:
        t = t.strip()
        if len(t) >= 2 and t[0] == t[-1] == '"':
            out.append((t[1:-1].strip(), True))
        elif t:
            out.append((t, False))
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Strict):
    name: str = Field(min_length=1)
    terms: list[str] = Field(min_length=1)
    exclude: list[str] = []
    handles: list[str] = []


class SourceConfig(BaseModel):
    """One `[[sources]]` entry. Platform-specific keys are checked by the listener's Options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    platform: str
    name: str | None = None
    every: timedelta = timedelta(minutes=5)
    backfill: timedelta = timedelta(days=7)
    base_url: str | None = None
    query: str | None = None
    enabled: bool = True
    # how often the posts waiting in the reply queue are asked about again (earful.recheck)
    recheck_every: timedelta = timedelta(minutes=15)

    @field_validator("every", "backfill", "recheck_every", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return v if isinstance(v, timedelta) else parse_duration(v)

    @property
    def key(self) -> str:
        """Stable identifier of this source (health rows and cursors hang off it)."""
        assert self.name is not None  # filled in by Settings validation
        return self.name

    @property
    def options(self) -> dict[str, Any]:
        """The platform-specific keys (everything beyond the common ones)."""
        return dict(self.model_extra or {})


class SLAConfig(_Strict):
    """First-response targets per priority band."""

    urgent: timedelta = timedelta(hours=1)
    high: timedelta = timedelta(hours=4)
    normal: timedelta = timedelta(hours=24)
    low: timedelta = timedelta(hours=72)

    @field_validator("urgent", "high", "normal", "low", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return v if isinstance(v, timedelta) else parse_duration(v)


class DashboardConfig(_Strict):
    timezone: str = "UTC"
    team: list[str] = []
    refresh: timedelta = timedelta(seconds=60)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not an IANA timezone such as Europe/Paris") from exc
        return v

    @field_validator("refresh", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return v if isinstance(v, timedelta) else parse_duration(v)


class AlertsConfig(_Strict):
    webhook_url_env: str | None = None
    k: float = 3.0
    min_mentions: int = 10
    baseline: timedelta = timedelta(days=7)
    cooldown: timedelta = timedelta(hours=6)

    @field_validator("baseline", "cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return v if isinstance(v, timedelta) else parse_duration(v)


class CannedReply(_Strict):
    name: str = Field(min_length=1)
    text: str = Field(min_length=1)


class ReplyAccount(_Strict):
    """The brand's own account on one platform, used to send replies (`[replies.<platform>]`).

    Secrets are named by variable: `token_env` (Mastodon user token with
    write:statuses, X user-context token, Lemmy JWT), `identifier_env` +
    `password_env` (Bluesky handle + app password, Lemmy or Reddit login),
    `client_id_env` + `client_secret_env` (Reddit approved app).
    """

    base_url: str | None = None
    auth_url: str | None = None
    token_env: str | None = None
    identifier_env: str | None = None
    password_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    handle: str | None = None
    user_agent: str | None = None


class RepliesConfig(_Strict):
    mastodon: ReplyAccount | None = None
    bluesky: ReplyAccount | None = None
    x: ReplyAccount | None = None
    lemmy: ReplyAccount | None = None
    reddit: ReplyAccount | None = None


class Settings(_Strict):
    brand: BrandConfig
    competitors: dict[str, list[str]] = {}
    sources: list[SourceConfig] = []
    sla: SLAConfig = SLAConfig()
    dashboard: DashboardConfig = DashboardConfig()
    alerts: AlertsConfig = AlertsConfig()
    canned_replies: list[CannedReply] = []
    replies: RepliesConfig = RepliesConfig()
    # Where it came from; not part of the TOML.
    path: str = DEFAULT_CONFIG
    secrets: Mapping[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    def entities(self) -> dict[str, list[str]]:
        """Brand first, then competitors: name -> configured terms."""
        return {self.brand.name: list(self.brand.terms), **self.competitors}

    def secret(self, var: str | None) -> str | None:
        """The value of a secret variable named in config, or None."""
        if not var:
            return None
        return self.secrets.get(var)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.key == name:
                return s
        raise KeyError(name)


def read_secrets(secrets_path: Path | None = None) -> dict[str, str]:
    """Environment variables layered over `.streamlit/secrets.toml` top-level strings."""
    values: dict[str, str] = {}
    path = secrets_path or DEFAULT_SECRETS
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        values.update({k: str(v) for k, v in data.items() if isinstance(v, str | int)})
    values.update(os.environ)
    return values


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_path: Path | None = None,
) -> Settings:
    """Read and fully validate a config file; raise ConfigError with one line on any problem."""
    p = Path(path or os.environ.get("EARFUL_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: file not found (pass --config or set EARFUL_CONFIG)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: TOML syntax error: {exc}") from exc
    secrets = dict(environ) if environ is not None else read_secrets(secrets_path)
    return settings_from_dict(raw, path=str(p), secrets=secrets)


def settings_from_dict(
    raw: dict[str, Any], *, path: str = DEFAULT_CONFIG, secrets: Mapping[str, str] | None = None
) -> Settings:
    """Validate an already-parsed config mapping (tests and `load_settings` use this)."""
    try:
        settings = Settings.model_validate({**raw, "path": path, "secrets": dict(secrets or {})})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {_loc(tuple(err['loc']))}: {msg}") from None
    return _check_sources(settings)


def _check_sources(settings: Settings) -> Settings:
    from listeners import REGISTRY  # late import: listeners depend on earful.models only

    named: list[SourceConfig] = []
    seen: set[str] = set()
    for i, src in enumerate(settings.sources):
        where = f"{settings.path}: sources[{i}]"
        listener = REGISTRY.get(src.platform)
        if listener is None:
            known = ", ".join(sorted(REGISTRY))
            raise ConfigError(
                f"{where}.platform: unknown platform {src.platform!r} (known: {known})"
            )
        try:
            listener.Options.model_validate(src.options)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = _loc(tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{where}.{key}: {msg}") from None
        for key, var in src.options.items():
            if key.endswith("_env") and isinstance(var, str) and var not in settings.secrets:
                raise ConfigError(
                    f"{where}.{key}: environment variable {var} is not set "
                    f"(set it or add it to .streamlit/secrets.toml)"
                )
        name = src.name or _default_name(src, settings.sources)
        if name in seen:
            raise ConfigError(f"{where}.name: duplicate source name {name!r}; give each a name")
        seen.add(name)
        named.append(src.model_copy(update={"name": name}))
    var = settings.alerts.webhook_url_env
    if var and var not in settings.secrets:
        raise ConfigError(
            f"{settings.path}: alerts.webhook_url_env: environment variable {var} is not set"
        )
    return settings.model_copy(update={"sources": named})


def _default_name(src: SourceConfig, all_sources: list[SourceConfig]) -> str:
    same = [s for s in all_sources if s.platform == src.platform]
    if len(same) == 1:
        return src.platform

    def host(s: SourceConfig) -> str:
        where = s.base_url or s.options.get("url") or ""
        return re.sub(r"^[a-z]+://", "", str(where)).split("/")[0]

    h = host(src)
    if not h:
        return f"{src.platform}:{all_sources.index(src)}"
    if sum(1 for s in same if host(s) == h) > 1:  # e.g. several feeds on one host: stable suffix
        where = str(src.base_url or src.options.get("url") or "")
        return f"{src.platform}:{h}-{hashlib.sha1(where.encode()).hexdigest()[:6]}"
    return f"{src.platform}:{h}"
