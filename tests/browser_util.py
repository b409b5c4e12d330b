"""Helpers for the browser test: a real `streamlit run dashboard.py` on 127.0.0.1 and
small Playwright steps for Streamlit widgets (select boxes, sidebar navigation).

The server is a subprocess in its own process group with a bounded start-up wait;
`stop()` always kills it (and its children) so a failing test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StreamlitServer:
    """`streamlit run dashboard.py` against a given config and database, loopback only."""

    def __init__(self, *, config: Path, db_url: str, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.env = {
            **os.environ,
            "EARFUL_CONFIG": str(config),
            "EARFUL_DATABASE_URL": db_url,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
        ]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log()}")
            try:
                r = httpx.get(f"{self.url}/_stcore/health", timeout=2.0)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        self.proc = None


@contextlib.contextmanager
def running(server: StreamlitServer) -> Iterator[StreamlitServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- Streamlit widgets in Playwright ----------------------------------------------------
def wait_idle(page, timeout: float = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished the current script run (and painted it)."""
    page.wait_for_timeout(250)  # a click's rerun may not have started yet
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout,
    )
    page.wait_for_timeout(250)


def screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport."""
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 80)})
    wait_idle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def choose(page, label: str, option: str, *, root=None, multi: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Pick `option` (a substring of its text) in the select box (or multiselect) `label`."""
    scope = root or page
    widget = scope.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has=page.get_by_role("combobox", name=label)
    )
    wanted = page.get_by_role("option").filter(has_text=option).first
    for attempt in range(3):  # a rerun that lands mid-click closes the list: open it again
        wait_idle(page)
        widget.first.get_by_role("button", name="Open").click()  # the input alone filters
        try:
            wanted.wait_for(timeout=5_000)
            break
        except Exception:
            if attempt == 2:
                raise
    wanted.click()
    if multi:  # a multiselect stays open after a pick; Escape on a select box would clear it
        page.keyboard.press("Escape")
    wait_idle(page)


def goto_page(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Navigate with the sidebar (keeps the session, hence the chosen user)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    wait_idle(page)
