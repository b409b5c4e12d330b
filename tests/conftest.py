"""Shared fixtures: no network, real SQLite files, a real throwaway PostgreSQL server.

PostgreSQL: `EARFUL_TEST_PG_URL` (a server URL whose user may CREATE DATABASE)
is used when set; otherwise, when Debian's PostgreSQL binaries exist, one
server is started for the session in a temporary folder (as the `postgres`
user when running as root) and stopped at the end. Each test that asks for
`pg_url` gets a fresh database. Without either, PostgreSQL tests skip with a
reason (CI always has the binaries: .ci/run installs them).
"""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


# -- no network ---------------------------------------------------------------
def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach the network (tried {address!r})")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every non-loopback connection made from the test process."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's config, database or secrets by accident."""
    for var in ("EARFUL_CONFIG", "EARFUL_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)


# -- SQLite -------------------------------------------------------------------
@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'earful.db'}"


# -- PostgreSQL ---------------------------------------------------------------
def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PgServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="earful-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        r = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        r = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if r.returncode != 0:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log[-500:]}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server (maintenance database) for the whole session."""
    env = os.environ.get("EARFUL_TEST_PG_URL")
    if env:
        yield env
        return
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries not found (apt-get install postgresql) and EARFUL_TEST_PG_URL unset"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    server = _PgServer(bindir)
    try:
        url = server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both backends: the same store tests run on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'earful.db'}"
    return str(request.getfixturevalue("pg_url"))


# -- settings and stores ------------------------------------------------------
SAMPLE_CONFIG: dict = {
    "brand": {
        "name": "Acme",
        "terms": ["acme", '"acme cloud"'],
        "exclude": ["acme anvil meme"],
        "handles": ["@acme", "acme@mastodon.social", "acme.bsky.social"],
    },
    "competitors": {"Globex": ["globex"], "Initech": ["initech", "@initech"]},
}


@pytest.fixture
def settings():
    """Settings for brand Acme with competitors Globex and Initech, no sources."""
    from earful.config import settings_from_dict

    return settings_from_dict(SAMPLE_CONFIG)


def _ready_store(url: str):
    from earful.store import Store

    store = Store(url)
    store.upgrade()
    return store


@pytest.fixture
def sqlite_store(sqlite_url: str):
    """A migrated store on a real SQLite file."""
    store = _ready_store(sqlite_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def any_store(db_url: str):
    """A migrated store, once on SQLite and once on PostgreSQL."""
    store = _ready_store(db_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def store(sqlite_store):
    """`sqlite_store` under the short name the listener and poller tests use."""
    return sqlite_store


# -- a local HTTP server --------------------------------------------------------
@pytest.fixture
def srv():
    """A `localserver.LocalServer` on 127.0.0.1:<random port>, stopped after the test."""
    from localserver import LocalServer

    with LocalServer() as s:
        yield s
