"""Shared fixtures: tiny in-memory databases, paper factories, a local arXiv stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from papertrack.cli import cli
from papertrack.models import Paper
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_standin import Faults, ReplayArxiv
from papertrack.sources.dblp import DblpClient
from papertrack.store.schema import memory_db

FIXTURES = Path(__file__).parent / "fixtures"
# ../shared next to the clone; PAPERTRACK_SHARED points elsewhere (a git worktree lives deeper)
SHARED = Path(os.environ.get("PAPERTRACK_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")


def make_paper(n: int | str, **kw) -> Paper:
    """A plausible arXiv paper; `n` picks the id (2001.000nn) unless `id` is given."""
    pid = kw.pop("id", None) or (n if isinstance(n, str) else f"2001.{n:05d}")
    day = 1 + (int(str(n)[-2:]) % 28 if str(n)[-2:].isdigit() else 0)
    defaults = dict(
        title=f"Paper {n} on binary neural networks",
        abstract=f"We propose method {n} for binary neural network compression. It reduces size by 10x.",
        authors=["Ada Lovelace", f"Author {n}"],
        published=f"2020-01-{day:02d}T10:00:00Z",
        updated=f"2020-01-{day:02d}T10:00:00Z",
        version=1,
        primary_category="cs.LG",
        categories=["cs.LG", "cs.CV"],
    )
    defaults.update(kw)
    return Paper(id=pid, **defaults)


CLOSED_ARXIV = "http://127.0.0.1:9/api/query"
CLOSED_DBLP = "http://127.0.0.1:9/search/publ/api"


@pytest.fixture(autouse=True)
def no_real_services(monkeypatch):
    """No test may reach arXiv or DBLP: unless a test points them at a local server, the
    endpoints (the CLI's, by environment, and the library's defaults) are a closed port."""
    monkeypatch.setenv("PAPERTRACK_ARXIV_URL", CLOSED_ARXIV)
    monkeypatch.setenv("PAPERTRACK_DBLP_URL", CLOSED_DBLP)
    monkeypatch.setattr(ArxivClient, "default_url", CLOSED_ARXIV)
    monkeypatch.setattr(DblpClient, "default_url", CLOSED_DBLP)


@pytest.fixture
def db():
    return memory_db()


@pytest.fixture
def replay():
    """Start a local arXiv stand-in: `replay(papers, faults=Faults(...))`."""
    servers = []

    def start(papers, faults: Faults | None = None) -> ReplayArxiv:
        server = ReplayArxiv(papers, faults).__enter__()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.__exit__(None, None, None)


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Invoke the CLI in-process from `tmp_path`; returns click's Result."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict | None = None, input: str | None = None):
        environ = {"PAPERTRACK_ARXIV_DELAY": "0", **(env or {})}
        return CliRunner().invoke(cli, list(args), env=environ, input=input, catch_exceptions=False)

    return run


def write_queries(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


BASIC_QUERIES = """\
queries:
  - name: binarization
    source: arxiv
    query: 'abs:"binary neural network" AND (cat:cs.LG OR cat:cs.CV)'
    tags: [binarization]
  - name: quantization
    source: arxiv
    query: 'ti:quantization AND cat:cs.LG'
    tags: [quantization, low-bit]
"""


def requires_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (absent in a fresh clone)")
    return path


@pytest.fixture
def scripted_server():
    """A 127.0.0.1 server answering each request with the next (status, body, headers) in a
    script (the last one repeats); `.requests` records the query strings it saw."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(script: list[tuple[int, bytes, dict]]):
        seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                status, body, headers = script[min(len(seen), len(script) - 1)]
                seen.append(self.path)
                self.send_response(status)
                for k, v in {"Content-Type": "application/atom+xml", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        server.requests = seen
        server.url = f"http://127.0.0.1:{server.server_address[1]}/api/query"
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def start_fake_arxiv(tmp_path: Path, name: str, corpus: str, *faults: str):
    """Start ../shared/tools/fake_arxiv.py over a shared corpus on 127.0.0.1 (skips when
    ../shared is absent); returns (process, endpoint URL, request log path)."""
    tool = requires_shared("tools", "fake_arxiv.py")
    data = requires_shared("data", "arxiv", corpus)
    port_file, log = tmp_path / f"{name}.port", tmp_path / f"{name}.requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(tool), str(data), "--port", "0", "--port-file", str(port_file), "--log", str(log), *faults],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("fake_arxiv did not start")
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/api/query", log
