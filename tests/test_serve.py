"""`papertrack serve` and `papertrack demo` as real processes on 127.0.0.1; harvesting while
serving; plain `datasette -m metadata.json`; one-line errors."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import pytest

from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from tests import papers_db
from tests.helpers import ROOT, make_paper
from tests.serving import papertrack_process

METADATA = ROOT / "metadata.json"


def test_serve_listens_on_loopback_and_serves_the_publication(tmp_path):
    db = papers_db.build(tmp_path / "papers.db")
    with papertrack_process("serve", "--db", str(db), "--port", "0", cwd=tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url == server.base + "/"
        status, body = server.get("/")
        assert status == 200 and f"{papers_db.N + 1:,} papers" in body
        status, body = server.get("/papers/papers.json")
        assert status == 200 and set(json.loads(body)["facet_results"]) == {"tags", "primary_category", "venue", "year"}
        status, body = server.get("/papers.json?sql=" + urllib.parse.quote("delete from papers"))
        assert status == 400
    assert open_db(db)["papers"].count == papers_db.N + 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_server_without_an_error(tmp_path, sig):
    db = papers_db.build(tmp_path / "papers.db")
    with papertrack_process("serve", "--db", str(db), "--port", "0", cwd=tmp_path) as server:
        assert server.get("/")[0] == 200
        server.proc.send_signal(sig)
        assert server.proc.wait(timeout=15) == 0
    assert "Error" not in "".join(server.output) and "Traceback" not in "".join(server.output)


def test_harvest_while_serving_never_reports_a_locked_database(tmp_path, replay):
    """Serve, then write from a harvest process and from a second writer in this process
    while four clients read: every request succeeds, every write lands, and what is
    served is current (the file is read-only to Datasette, not immutable)."""
    db_path = papers_db.build(tmp_path / "papers.db")
    fresh = [make_paper(i, id=f"2002.{i:05d}", title=f"Fresh binary paper {i}") for i in range(400)]
    server = replay(fresh)
    (tmp_path / "queries.yaml").write_text(
        "queries:\n  - name: binarization\n    source: arxiv\n    query: 'abs:\"binary neural network\"'\n"
    )
    env = {
        **os.environ,
        "PAPERTRACK_ARXIV_URL": server.url,
        "PAPERTRACK_ARXIV_DELAY": "0",
        "PAPERTRACK_ARXIV_PAGE_SIZE": "10",
    }
    failures: list[str] = []
    with papertrack_process("serve", "--db", str(db_path), "--port", "0", cwd=tmp_path) as web:
        done = threading.Event()
        reads = []

        def reader(seed: int) -> None:
            rng = random.Random(seed)
            paths = [
                "/papers/papers",
                "/papers/papers.json?_search=binary",
                "/papers/papers.bib?_search=fresh",
                "/papers/papers/2001~2E00011",
                "/papers/latest.json?days=30",
                "/papers/stale_queries",
                "/papers/papers.json?_facet_m2m=authors",
            ]
            while not done.is_set():
                path = rng.choice(paths)
                status, body = web.get(path)
                reads.append(status)
                if status != 200 or "locked" in body:
                    failures.append(f"GET {path}: {status} {body[:200]}")

        def writer() -> None:
            db = open_db(db_path)
            try:
                for i in range(60):
                    with transaction(db):
                        save_papers(db, [make_paper(i, id=f"2003.{i:05d}", title=f"Hand-written {i}")])
                    db.execute("update papers set summary = ? where id = '2001.00011'", [f"edit {i}"])
                    db.conn.commit()
            except Exception as e:
                failures.append(f"writer: {e}")

        threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)] + [threading.Thread(target=writer)]
        for t in threads:
            t.start()
        harvest = subprocess.run(
            [sys.executable, "-m", "papertrack", "harvest", "--db", str(db_path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        threads[-1].join()
        done.set()
        for t in threads:
            t.join()
        assert harvest.returncode == 0, harvest.stdout + harvest.stderr
        assert "locked" not in harvest.stdout + harvest.stderr
        assert not failures, failures[:5]
        assert len(reads) > 20
        status, body = web.get("/papers/papers.json?_size=1")
        assert json.loads(body)["filtered_table_rows_count"] == papers_db.N + 1 + 400 + 60
        status, body = web.get("/papers/papers.json?_search=fresh&_size=1")
        assert json.loads(body)["filtered_table_rows_count"] == 400
    assert "locked" not in "".join(web.output)


def test_serve_starts_while_a_write_transaction_is_open(tmp_path):
    db_path = papers_db.build(tmp_path / "papers.db")
    db = open_db(db_path)
    db.execute("begin immediate")
    save_papers(db, [make_paper(1, id="2004.00001", title="Uncommitted binary paper")])
    with papertrack_process("serve", "--db", str(db_path), "--port", "0", cwd=tmp_path) as web:
        status, body = web.get("/papers/papers.json?_search=uncommitted")
        assert status == 200 and json.loads(body)["filtered_table_rows_count"] == 0
        db.conn.commit()
        status, body = web.get("/papers/papers.json?_search=uncommitted")
        assert json.loads(body)["filtered_table_rows_count"] == 1


def test_demo_builds_then_serves(tmp_path):
    shutil.copy(ROOT / "queries.yaml", tmp_path / "queries.yaml")
    with papertrack_process("demo", "--port", "0", cwd=tmp_path, timeout=120) as web:
        assert "Demo database: db/demo.db" in "".join(web.output)
        assert web.url == web.base + "/"
        status, body = web.get("/browse?q=binary")
        assert status == 200 and "papers</strong> matching <em>binary</em>" in body
        status, body = web.get("/demo/papers.json?_search=binary&_shape=objects")
        data = json.loads(body)
        assert status == 200 and data["filtered_table_rows_count"] >= 5
        assert {"tags", "venue"} <= set(data["facet_results"])
        status, body = web.get("/demo/by_tag.bib?tag=nas")
        assert status == 200 and len(re.findall(r"^@\w+\{", body, re.M)) >= 5


def test_plain_datasette_reads_the_same_metadata(tmp_path):
    """`datasette FILE -m metadata.json`, as the README says, for papers.db and demo.db alike."""
    papers = papers_db.build(tmp_path / "papers.db")
    demo = tmp_path / "demo.db"
    shutil.copy(papers, demo)
    for db, name in ((papers, "papers"), (demo, "demo")):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "datasette",
                str(db),
                "-m",
                str(METADATA),
                "--get",
                f"/{name}/papers.json?_search={papers_db.TITLE_WORD}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert [r[0] for r in data["rows"]] == ["2001.00007"]
        assert set(data["facet_results"]) == {"tags", "primary_category", "venue", "year"}
        bib = subprocess.run(
            [sys.executable, "-m", "datasette", str(db), "-m", str(METADATA), "--get", f"/{name}/by_tag.bib?tag=pruning"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert len(re.findall(r"^@\w+\{", bib.stdout, re.M)) == papers_db.pruning_count()


def test_serve_errors_are_one_line(run_cli, tmp_path):
    result = run_cli("serve", "--db", "missing.db")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "no database at missing.db" in result.output
    (tmp_path / "junk.db").write_text("not sqlite " * 100)
    result = run_cli("serve", "--db", "junk.db")
    assert result.exit_code == 2 and "junk.db: not a papertrack database" in result.output
    papers_db.build(tmp_path / "papers.db")
    (tmp_path / "bad.json").write_text('{\n  "title": "x",\n  oops\n}')
    result = run_cli("serve", "--db", "papers.db", "--metadata", "bad.json")
    assert result.exit_code == 2 and result.output.startswith("Error: bad.json:3:")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli("serve", "--db", "papers.db", "--port", str(port))
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no database at"),
        (b"", "an empty file, not a papertrack database"),
        (b"not sqlite at all" * 100, "not a papertrack database (file is not a database)"),
        ("other program", "not a papertrack database (it has no papers table)"),
    ],
)
def test_serving_immutable_refuses_what_is_not_a_papertrack_database(tmp_path, run_cli, content, message):
    path = tmp_path / "some.db"
    if content == "other program":
        sqlite3.connect(path).execute("create table notes (x)").connection.close()
    elif content is not None:
        path.write_bytes(content)
    before = path.read_bytes() if path.exists() else None
    result = run_cli("serve", "--immutable", "--db", str(path), "--port", "0")
    assert result.exit_code == 2 and result.output.startswith("Error: ") and message in result.output, result.output
    assert "older papertrack" not in result.output and "Traceback" not in result.output
    assert (path.read_bytes() if path.exists() else None) == before  # untouched


def test_an_immutable_replica_serves_cacheable_pages(tmp_path, run_cli):
    db = papers_db.build(tmp_path / "papers.db")
    with papertrack_process("serve", "--immutable", "--db", str(db), "--port", "0", cwd=tmp_path) as server:
        assert "immutable" in "".join(server.output)
        with urllib.request.urlopen(server.base + "/browse?tag=pruning", timeout=30) as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "public, max-age=3600"
            assert f"{papers_db.pruning_count()} papers" in r.read().decode()
    (tmp_path / "papers.db-wal").write_bytes(b"\0" * 64)  # a writer's log not yet folded in
    result = run_cli("serve", "--immutable", "--db", str(db), "--port", "0")
    assert result.exit_code == 2 and result.output.startswith("Error: ") and "holds changes not yet in" in result.output
