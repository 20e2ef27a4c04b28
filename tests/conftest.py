"""Fixtures: tiny in-memory databases, a local arXiv stand-in, the CLI run in-process.
Plain helpers (paper factory, queries files, ../shared look-ups) are in helpers.py."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from hypothesis import settings

from papertrack.cli import cli
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_standin import Faults, ReplayArxiv
from papertrack.sources.dblp_sparql import DblpSparqlClient
from papertrack.sources.oai import OaiClient
from papertrack.store.schema import memory_db
from tests.helpers import CLOSED_ARXIV, CLOSED_OAI, CLOSED_SPARQL

# Property tests: ~50 examples a run by default; HYPOTHESIS_PROFILE=thorough for 500.
settings.register_profile("default", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def no_real_services(monkeypatch, tmp_path_factory):
    """No test may reach arXiv or dblp: unless a test points them at a local server, the
    endpoints (the CLI's, by environment, and the library's defaults) are a closed port.
    The machine-wide endpoint locks of the CLI go to a directory of the test's own. Nor
    may a test use the developer's language models: llm's keys and default model are
    those of an empty directory of the test's own."""
    monkeypatch.setenv("PAPERTRACK_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path_factory.mktemp("llm")))
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "LLM_GEMINI_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("PAPERTRACK_CONTACT", raising=False)
    for variable, url, client in (
        ("PAPERTRACK_ARXIV_URL", CLOSED_ARXIV, ArxivClient),
        ("PAPERTRACK_ARXIV_OAI_URL", CLOSED_OAI, OaiClient),
        ("PAPERTRACK_DBLP_SPARQL_URL", CLOSED_SPARQL, DblpSparqlClient),
    ):
        monkeypatch.setenv(variable, url)
        monkeypatch.setattr(client, "default_url", url)


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
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        server.requests = seen
        server.url = f"http://127.0.0.1:{server.server_address[1]}/api/query"
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
