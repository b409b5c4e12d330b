"""The `earful` command.

Exit codes: 0 on success, 2 on bad usage or bad config (one clear line on
stderr). Config comes from `--config`, `EARFUL_CONFIG` or `./earful.toml`; the
database from `--db`, `EARFUL_DATABASE_URL` or `sqlite:///data/earful.db`.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from earful.config import ConfigError, Settings, load_settings
from earful.models import as_utc
from earful.store import Store, database_url


class Env:
    def __init__(self, config: str | None, db: str | None) -> None:
        self.config_path = config
        self.db_url = database_url(db)
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                fail(str(exc))
        assert self._settings is not None
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = Store(self.db_url)
            except Exception as exc:  # bad URL, missing driver
                fail(f"database {self.db_url}: {exc}")
        assert self._store is not None
        return self._store

    def ready_store(self) -> Store:
        """The store, refusing to run on an un-migrated database."""
        store = self.store
        if not store.is_current():
            fail(f"database {self.db_url} is not up to date: run `earful db upgrade`")
        return store


def fail(message: str, code: int = 2) -> None:
    click.echo(f"earful: {message}", err=True)
    raise SystemExit(code)


def parse_when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        fail(
            f"{option}: {value!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T09:00Z)"
        )
    return None


pass_env = click.make_pass_decorator(Env)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="Config file (default: $EARFUL_CONFIG or ./earful.toml).",
)
@click.option(
    "--db",
    "db",
    metavar="URL",
    help="Database URL (default: $EARFUL_DATABASE_URL or sqlite:///data/earful.db).",
)
@click.version_option(package_name="earful")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db: str | None) -> None:
    """Earful: hear what customers say about your brand on public social networks."""
    ctx.obj = Env(config, db)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Apply missing schema migrations (idempotent)."""
    applied = env.store.upgrade()
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("database is up to date")


@cli.command()
@click.option(
    "--once", is_flag=True, help="Poll each source until caught up, print a summary, exit."
)
@click.option("--source", "only", metavar="NAME", help="Poll only this source.")
@pass_env
def listen(env: Env, once: bool, only: str | None) -> None:
    """Run the listener worker: poll every configured source on its schedule."""
    settings = env.settings
    store = env.ready_store()
    from earful.poller import listen as run_listener

    if only is not None and only not in {s.key for s in settings.sources}:
        known = ", ".join(s.key for s in settings.sources) or "none configured"
        fail(f"--source: no source named {only!r} in {settings.path} (known: {known})")
    from earful.poller import write_group

    try:
        write_group()
    except ConfigError as exc:
        fail(str(exc))
    # Everything loaded so far lives as long as the worker: keep it out of the
    # cyclic collector's full passes (about 8% of ingest time otherwise).
    gc.freeze()
    raise SystemExit(run_listener(settings, store, once=once, only=only))


@cli.command()
@pass_env
def status(env: Env) -> None:
    """Show every configured source and its health."""
    settings, store = env.settings, env.ready_store()
    from earful.poller import status_rows

    rows = status_rows(settings, store)
    if not rows:
        click.echo(f"no sources configured in {settings.path}")
        return
    for r in rows:
        last = r.get("last_success")
        line = f"{r['name']:<24} {r['status']:<18} last ok: {_fmt(last):<20} today: {r.get('items_today', 0)}"
        if r.get("last_error") and r["status"] != "ok":
            line += f"  ({r['last_error']})"
        click.echo(line)


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "never" if value is None else str(value)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--since", metavar="ISO", help="Only mentions created at or after this time.")
@click.option("--until", metavar="ISO", help="Only mentions created before this time.")
@click.option("--platform", metavar="P", multiple=True, help="Only this platform (repeatable).")
@click.option("-o", "--output", metavar="FILE", help="Write here instead of stdout.")
@pass_env
def export(
    env: Env,
    fmt: str,
    since: str | None,
    until: str | None,
    platform: tuple[str, ...],
    output: str | None,
) -> None:
    """Export mentions, one row each, as CSV or JSON Lines."""
    from earful.export import export_mentions

    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    store = env.ready_store()
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            n = export_mentions(store, fh, fmt=fmt, since=start, until=end, platforms=platform)
        click.echo(f"wrote {n} mentions to {output}", err=True)
    else:
        export_mentions(store, sys.stdout, fmt=fmt, since=start, until=end, platforms=platform)


@cli.command()
@pass_env
def score(env: Env) -> None:
    """Score one text per line from stdin; write one JSON object per line."""
    from earful.pipeline import Pipeline

    settings = _settings_or_default(env)
    pipe = Pipeline(settings)
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        out.write(json.dumps(pipe.score_text(text), ensure_ascii=False) + "\n")
    out.flush()


def _settings_or_default(env: Env) -> Settings:
    """Scoring works without a config file: then only handles and URLs are masked."""
    path = env.config_path or os.environ.get("EARFUL_CONFIG") or "earful.toml"
    if env.config_path is None and not Path(path).exists():
        from earful.config import settings_from_dict

        return settings_from_dict({"brand": {"name": "brand", "terms": ["brand"]}})
    return env.settings


@cli.command()
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@pass_env
def demo(env: Env, days: int, seed: int) -> None:
    """Seed the demo stream (synthetic posts, labelled as demo data)."""
    from earful.demo import seed_demo

    settings = env.settings
    store = env.store
    store.upgrade()
    with click.progressbar(
        length=days * 24, label=f"seeding {days} days of demo mentions", file=sys.stderr
    ) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        n = seed_demo(store, settings, days=days, seed=seed, progress=progress)
    click.echo(f"seeded {n} demo mentions into {env.db_url}")


@cli.command()
@click.option("--since", metavar="ISO", help="Only alerts raised at or after this time.")
@pass_env
def alerts(env: Env, since: str | None) -> None:
    """List spike and gap alerts."""
    from earful.alerts import list_alerts

    rows = list_alerts(env.ready_store(), since=parse_when(since, "--since"))
    if not rows:
        click.echo("no alerts")
    for a in rows:
        click.echo(f"{_fmt(a['created_at'])}  {a['kind']:<15} {a['subject']:<16} {a['summary']}")


@cli.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=True,
    help="Seed the demo stream when the database is empty.",
)
@pass_env
def up(env: Env, port: int, with_demo: bool) -> None:
    """Upgrade the database, seed the demo if empty, run the worker and the dashboard."""
    settings = env.settings
    store = env.store
    for name in store.upgrade():
        click.echo(f"applied {name}")
    if with_demo and store.count_mentions() == 0:
        env.config_path = settings.path
        click.get_current_context().invoke(demo)
    base = [sys.executable, "-m", "earful.cli", "--config", settings.path, "--db", env.db_url]
    child_env = {**os.environ, "EARFUL_CONFIG": settings.path, "EARFUL_DATABASE_URL": env.db_url}
    worker = subprocess.Popen([*base, "listen"], env=child_env)
    dash = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(Path(__file__).resolve().parents[1] / "dashboard.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        env=child_env,
    )
    click.echo(f"dashboard: http://localhost:{port}  (Ctrl-C stops the worker and the dashboard)")
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stop.is_set():
        for name, proc in (("worker", worker), ("dashboard", dash)):
            if proc.poll() is not None:
                click.echo(
                    f"earful: the {name} exited with code {proc.returncode}; stopping", err=True
                )
                code = proc.returncode or 1
                stop.set()
        stop.wait(0.5)
    for proc in (worker, dash):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in (worker, dash):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    click.echo("stopped")
    raise SystemExit(code)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:  # pragma: no cover - Env.settings already maps these
        fail(str(exc))


if __name__ == "__main__":
    main()

__all__ = ["cli", "main"]
