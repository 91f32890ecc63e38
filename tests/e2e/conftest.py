"""One real server for the whole session: `python ui.py` on a free loopback port, as a user starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # offline: neither the server nor gradio_client phones home
START_TIMEOUT = 600  # the first start on a fresh cache exports the model to ONNX and builds the index


@dataclass
class Server:
    url: str
    port: int
    index_dir: Path
    log: Path
    process: subprocess.Popen = field(repr=False)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, log: Path, *args: str) -> Server:
    """Start `python ui.py --port P --index DIR` and wait until /api/health answers 200."""
    port = free_port()
    out = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "ui.py", "--port", str(port), "--index", str(index_dir), *args],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    out.close()
    server = Server(f"http://127.0.0.1:{port}", port, index_dir, log, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"the server did not answer /api/health within {START_TIMEOUT} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """`python ui.py` on the default article, its index built into a temporary folder; stopped at the end."""
    folder = tmp_path_factory.mktemp("e2e-server")
    running = start_server(folder / "article.index", folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def client(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


SCHEMATHESIS_CASES: list[int] = [0]
"""Requests sent by the schemathesis test, reported at the end of the run."""


def pytest_terminal_summary(terminalreporter):
    if SCHEMATHESIS_CASES[0]:
        terminalreporter.write_line(f"schemathesis: {SCHEMATHESIS_CASES[0]} generated requests sent to /api")


@pytest.fixture(scope="session")
def bot(server):
    """The Python API on the server's own index folder (loaded, never rebuilt)."""
    from assistant import Assistant

    return Assistant.load(server.index_dir)


@pytest.fixture(scope="session")
def gradio(server):
    """A gradio_client on the running server (the chat page's /ask endpoint)."""
    from gradio_client import Client

    return Client(server.url, verbose=False)
