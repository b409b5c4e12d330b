"""The `earful` command, run as users run it: a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[brand]
name = "Acme"
terms = ["acme"]
handles = ["@acme"]

[competitors]
Globex = ["globex"]

[[sources]]
platform = "demo"
every = "1m"
"""


def earful(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    timeout: float = 120,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARFUL_")}
    env |= extra_env or {}
    return subprocess.run(
        [sys.executable, "-m", "earful.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "earful.toml").write_text(CONFIG)
    return tmp_path


def test_db_upgrade_is_idempotent(workdir):
    first = earful("db", "upgrade", cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert "applied 1:" in first.stdout
    assert (workdir / "data" / "earful.db").exists()
    second = earful("db", "upgrade", cwd=workdir)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_bad_config_exits_2_with_one_line_naming_file_and_key(workdir):
    (workdir / "bad.toml").write_text(CONFIG + '\n[[sources]]\nplatform = "demo"\nevery = "soon"\n')
    r = earful("--config", "bad.toml", "status", cwd=workdir)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "bad.toml: sources[1].every:" in lines[0]


def test_bad_write_group_variable_exits_2_naming_it(workdir):
    assert earful("db", "upgrade", cwd=workdir).returncode == 0
    r = earful("listen", "--once", cwd=workdir, extra_env={"EARFUL_WRITE_GROUP": "lots"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "earful: EARFUL_WRITE_GROUP: 'lots' is not a number of mentions per write (1 or more)"
    ]
    ok = earful("listen", "--once", cwd=workdir, extra_env={"EARFUL_WRITE_GROUP": "1"})
    assert ok.returncode == 0 and "demo: ok" in ok.stdout


def test_unknown_command_and_bad_option_exit_2(workdir):
    assert earful("frobnicate", cwd=workdir).returncode == 2
    r = earful("export", "--format", "xml", cwd=workdir)
    assert r.returncode == 2


def test_commands_refuse_an_unmigrated_database(workdir):
    r = earful("status", cwd=workdir)
    assert r.returncode == 2 and "earful db upgrade" in r.stderr


def test_score_masks_the_brand_handle(workdir):
    r = earful("score", cwd=workdir, stdin="@united lost my bag again\nI love it, thanks!\n\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[0]["label"] == "negative" and rows[0]["compound"] <= -0.05
    assert rows[1]["label"] == "positive"
    for row in rows:
        assert {"compound", "label", "lang", "intent", "needs_reply", "reason"} <= set(row)


def test_demo_then_export_jsonl_and_csv_agree(workdir):
    r = earful("demo", "--days", "2", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "seeded" in r.stdout
    jl = earful("export", "--format", "jsonl", cwd=workdir)
    assert jl.returncode == 0, jl.stderr
    rows = [json.loads(line) for line in jl.stdout.splitlines()]
    assert len(rows) > 20
    need = {
        "platform",
        "external_id",
        "url",
        "author",
        "author_followers",
        "text",
        "created_at",
        "lang",
        "matched",
        "compound",
        "label",
    }
    assert need <= set(rows[0])
    assert all(r["created_at"].endswith(("Z", "+00:00")) for r in rows)
    out = workdir / "m.csv"
    c = earful("export", "--format", "csv", "-o", str(out), cwd=workdir)
    assert c.returncode == 0, c.stderr
    with out.open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    # Filters narrow the export.
    plat = rows[0]["platform"]
    one = earful("export", "--format", "jsonl", "--platform", plat, cwd=workdir)
    assert 0 < len(one.stdout.splitlines()) <= len(rows)
    assert all(json.loads(x)["platform"] == plat for x in one.stdout.splitlines())
    bad = earful("export", "--format", "csv", "--since", "yesterday", cwd=workdir)
    assert bad.returncode == 2 and "--since" in bad.stderr
    # A second seed of the same window adds nothing.
    again = earful("demo", "--days", "2", cwd=workdir)
    assert again.returncode == 0
    assert len(earful("export", "--format", "jsonl", cwd=workdir).stdout.splitlines()) >= len(rows)


def test_listen_once_runs_the_demo_listener(workdir):
    assert earful("db", "upgrade", cwd=workdir).returncode == 0
    r = earful("listen", "--once", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "demo" in r.stdout
    s = earful("status", cwd=workdir)
    assert s.returncode == 0 and "demo" in s.stdout


def test_listen_unknown_source_exits_2(workdir):
    assert earful("db", "upgrade", cwd=workdir).returncode == 0
    r = earful("listen", "--once", "--source", "nope", cwd=workdir)
    assert r.returncode == 2 and "nope" in r.stderr
