"""Test helpers (plain functions and constants; the fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest

from papertrack.models import Paper

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# ../shared next to the clone; PAPERTRACK_SHARED points elsewhere (a git worktree lives deeper)
SHARED = Path(os.environ.get("PAPERTRACK_SHARED") or ROOT.parent / "shared")
CLOSED_ARXIV = "http://127.0.0.1:9/api/query"
CLOSED_OAI = "http://127.0.0.1:9/oai"
CLOSED_SPARQL = "http://127.0.0.1:9/sparql"

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


def api(client) -> dict:
    """`harvest` keywords that run arXiv queries through the query API with this client."""
    return {"via": "api", "clients": {"arxiv-api": client}}


def write_queries(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def requires_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (absent in a fresh clone)")
    return path


def start_tool(tmp_path: Path, tool: str, name: str, *args: str) -> tuple[subprocess.Popen, int, Path]:
    """Start one of ../shared/tools on 127.0.0.1 (skips when ../shared is absent); returns
    (process, port, request log path). The caller stops the process."""
    script = requires_shared("tools", tool)
    port_file, log = tmp_path / f"{name}.port", tmp_path / f"{name}.requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(script), *args, "--port", "0", "--port-file", str(port_file), "--log", str(log)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"{tool} did not start")
        time.sleep(0.1)
    return proc, int(port_file.read_text()), log


def start_fake_arxiv(tmp_path: Path, name: str, corpus: str, *faults: str):
    """Start ../shared/tools/fake_arxiv.py over a shared corpus on 127.0.0.1 (skips when
    ../shared is absent); returns (process, endpoint URL, request log path)."""
    data = requires_shared("data", "arxiv", corpus)
    proc, port, log = start_tool(tmp_path, "fake_arxiv.py", name, str(data), *faults)
    return proc, f"http://127.0.0.1:{port}/api/query", log


def start_papertrack(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m papertrack ARGS` as a real process from `cwd` (output piped, as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "papertrack", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, timeout: float = 30, what: str = "the condition") -> None:
    """Poll `condition()` every 20 ms until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


def derived_state(conn) -> dict[str, list]:
    """The browse page's derived tables as comparable values (ids of names replaced by the
    names, counts of zero left out)."""
    names = {i: f"{facet}:{value}" for i, facet, value in conn.execute("select id, facet, value from browse_values")}
    return {
        "browse": sorted(
            (k, t, names.get(cat), names.get(venue), year, tags)
            for k, t, cat, venue, year, tags in conn.execute("select * from browse")
        ),
        "browse_tags": sorted(conn.execute("select tag, t, k from browse_tags")),
        "browse_cats": sorted((names[cat], k) for cat, k in conn.execute("select cat, k from browse_cats")),
        "facet_counts": sorted(
            (f, str(names.get(v, v) if f in ("cat", "venue") else v), n)
            for f, v, n in conn.execute("select facet, value, n from facet_counts where n != 0")
        ),
        "tag_months": sorted(conn.execute("select tag, month, n from tag_months where n != 0")),
    }


def assert_derived_consistent(db) -> None:
    """What the triggers (or a bulk fill) left equals a rebuild from papers and papers_tags
    (done on a copy), and the tables are as `store.derived` defines them."""
    import sqlite3

    import sqlite_utils

    from papertrack.store import derived

    assert derived.is_current(db)
    copy = sqlite3.connect(":memory:")
    db.conn.backup(copy)
    fresh = sqlite_utils.Database(copy)
    fresh.execute("begin")
    derived.rebuild(fresh)
    fresh.conn.commit()
    kept, rebuilt = derived_state(db.conn), derived_state(copy)
    for table in kept:
        assert kept[table] == rebuilt[table], f"{table} differs from a rebuild"
    assert len(kept["browse"]) == db.execute("select count(*) from papers").fetchone()[0]


class DatasetteClient:
    """Synchronous GETs against one Datasette instance (datasette.client), all on one event loop."""

    def __init__(self, ds):
        self.ds = ds
        self.loop = asyncio.new_event_loop()

    def get(self, path: str, status: int = 200):
        response = self.loop.run_until_complete(self.ds.client.get(path))
        assert response.status_code == status, f"{path}: {response.status_code} {response.text[:500]}"
        return response

    def json(self, path: str, status: int = 200):
        return self.get(path, status).json()

    def close(self):
        self.loop.close()


CARD = re.compile(r'<article class="card" id="paper-([^"]+)">')  # a browse page's cards, in order


def walk(client, path: str) -> list[str]:
    """Every card of every page, following the Next links to the end."""
    seen: list[str] = []
    while path:
        html = client.get(path).text
        seen += CARD.findall(html)
        m = re.search(r'<a href="([^"]+)" rel="next"', html)
        path = unescape(m.group(1)) if m else None
    return seen


class CookieClient(DatasetteClient):
    """One browser against an in-process Datasette: it keeps its cookies (Set-Cookie,
    deletions included) and knows Datasette's CSRF token once a page has set it."""

    def __init__(self, ds, loop: asyncio.AbstractEventLoop | None = None):
        super().__init__(ds)
        if loop is not None:
            self.loop.close()
            self.loop = loop
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, status: int | None = None, **kwargs):
        response = self.loop.run_until_complete(self.ds.client.request(method, path, cookies=dict(self.cookies), **kwargs))
        for header in response.headers.get_list("set-cookie"):
            pair, _, attrs = header.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attrs.lower().replace(" ", "") or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if status is not None:
            assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response

    def get(self, path: str, status: int = 200, **kwargs):
        return self.request("GET", path, status, **kwargs)

    def post(self, path: str, data: dict, status: int | None = None, csrf: bool = True, **kwargs):
        """A form POST, with the CSRF token unless `csrf` is False."""
        if csrf:
            data = {"csrftoken": self.csrftoken(), **data}
        return self.request("POST", path, status, data=data, **kwargs)

    def post_pairs(
        self, path: str, pairs: list[tuple[str, str]], tokens: Sequence[str | None] = (), status: int | None = None
    ):
        """A form POST of `pairs` as given (a field may repeat), with an `X-CSRFToken` header
        for each of `tokens` (None: the right token), repeated headers and all."""
        headers = [("content-type", "application/x-www-form-urlencoded")]
        headers += [("x-csrftoken", (self.csrftoken() if t is None else t).encode("utf-8")) for t in tokens]
        return self.request("POST", path, status, content=urlencode(pairs).encode("utf-8"), headers=headers)

    def csrftoken(self) -> str:
        if "ds_csrftoken" not in self.cookies:
            self.get("/-/login")
        return self.cookies["ds_csrftoken"]

    def login(self, name: str, password: str, status: int = 303):
        return self.post("/-/login", {"username": name, "password": password}, status=status)


def site_with_accounts(tmp: Path, accounts: dict[str, str], password: str, papers: Path | None = None):
    """A Datasette for the test papers database (`papers_db`, or `papers`), with a library
    holding these accounts ({name: role}), all with `password`."""
    from papertrack.accounts.schema import open_library, transaction
    from papertrack.accounts.users import add_user
    from papertrack.web.serve import datasette_for
    from tests import papers_db

    db = papers or papers_db.build(tmp / "papers.db")
    lib = open_library(tmp / "library.db")
    with transaction(lib.conn):
        for name, role in accounts.items():
            add_user(lib.conn, name, password, role)
    lib.close()
    return datasette_for(db, library=tmp / "library.db")
