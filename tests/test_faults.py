"""Faults end in one line, and `status` tells the truth: a full disk, SIGTERM and Ctrl+C, a
harvest killed with -9, an unwritable database, bad environment overrides. End to end
through the CLI (in-process and as real processes) against a local arXiv stand-in."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from papertrack.store import schema
from papertrack.store.papers import save_papers
from papertrack.store.runs import DEAD_RUN, HEALTH_SQL, Heartbeat
from papertrack.store.schema import open_db, transaction
from papertrack.web.metadata import metadata
from papertrack.web.serve import datasette_for
from tests.helpers import BASIC_QUERIES, FIXTURES, ROOT, make_paper, start_papertrack, wait_until, write_queries
from tests.test_snapshot_import import record, write_snapshot

HARVEST_FULL = (
    "Error: database or disk is full writing db/papers.db: the last complete page is kept; "
    "free space and run the harvest again\n"
)


def wordy(i: int, words: int = 150) -> str:
    """An abstract of `words` words found nowhere else: every paper grows the search index."""
    return "We propose binary neural network " + " ".join(f"w{i}x{j}" for j in range(words)) + "."


CORPUS = [make_paper(i, abstract=wordy(i)) for i in range(1, 201)]


@pytest.fixture
def capped(monkeypatch):
    """Every database the CLI opens may grow by `cap["pages"]` more pages of 4 KiB (SQLite's
    `max_page_count`): a full disk for that file, without root. None lifts the cap."""
    cap: dict[str, int | None] = {"pages": None}
    real = schema.open_db

    def open_capped(path, create=True):
        db = real(path, create)
        if cap["pages"] is not None:
            pages = db.execute("pragma page_count").fetchone()[0]
            db.execute(f"pragma max_page_count = {pages + cap['pages']}")
        return db

    monkeypatch.setattr(schema, "open_db", open_capped)
    return cap


def one_line(result, starts: str = "Error: ") -> str:
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(starts), result.stderr
    return result.stderr


def run_rows(path) -> list[tuple]:
    db = open_db(path)
    rows = db.execute("select query, status, error from harvest_runs order by id").fetchall()
    db.close()
    return rows


# ------------------------------------------------------------------ a full disk


def test_harvest_into_a_full_database_ends_in_one_line_and_resumes(run_cli, replay, tmp_path, capped):
    server = replay(CORPUS)
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_PAGE_SIZE": "20"}
    capped["pages"] = 60
    full = run_cli("harvest", "--query", "binarization", env=env)
    assert full.exit_code == 1 and one_line(full) == HARVEST_FULL
    capped["pages"] = None
    db = open_db(tmp_path / "db" / "papers.db")
    kept = db["papers"].count
    assert 0 < kept < 200 and kept % 20 == 0  # whole pages only
    assert run_rows(tmp_path / "db" / "papers.db") == [("binarization", "failed", "database or disk is full")]
    assert run_cli("status").stdout.splitlines()[2].split()[4] == "FAILED"
    rerun = run_cli("harvest", "--query", "binarization", env=env)
    assert rerun.exit_code == 0, rerun.output
    assert db["papers"].count == 200 and db["papers_queries"].count == 200 and db["papers_authors"].count == 400
    assert [r[1] for r in run_rows(tmp_path / "db" / "papers.db")] == ["failed", "ok"]


def test_imports_into_a_full_database_end_in_one_line(run_cli, replay, tmp_path, capped):
    """import-snapshot keeps its complete batches and resumes; import-bibtex and
    import-digest write in one transaction, so nothing of theirs is stored."""
    write_snapshot(tmp_path / "snap.jsonl", [record(n, abstract=wordy(n)) for n in range(1, 301)])
    capped["pages"] = 60
    snap = run_cli("import-snapshot", "snap.jsonl", "--workers", "0", env={"PAPERTRACK_IMPORT_BATCH": "25"})
    assert snap.exit_code == 1 and one_line(snap) == (
        "Error: database or disk is full writing db/papers.db: the last complete batch is kept; "
        "free space and run the import again to resume\n"
    )
    capped["pages"] = None
    db = open_db(tmp_path / "db" / "papers.db")
    kept = db["papers"].count
    assert 0 < kept < 300 and kept % 25 == 0  # whole batches only
    resumed = run_cli("import-snapshot", "snap.jsonl", "--workers", "0", env={"PAPERTRACK_IMPORT_BATCH": "25"})
    assert resumed.exit_code == 0 and "resumed after line" in resumed.output
    assert db["papers"].count == 300

    bib = "".join(
        f"@article{{k{i}, title = {{Entry {i} on pruning}}, author = {{Ada Lovelace}}, journal = {{J}}, "
        f"year = {{2020}}, abstract = {{{wordy(i)}}}}}\n"
        for i in range(150)
    )
    (tmp_path / "refs.bib").write_text(bib)
    capped["pages"] = 10
    imported = run_cli("import-bibtex", "--db", "b.db", "refs.bib")
    nothing = "nothing of this import was stored; free space and run the import again\n"
    assert imported.exit_code == 1 and one_line(imported) == f"Error: database or disk is full writing b.db: {nothing}"

    server = replay([make_paper(pid, abstract=wordy(n, 6000)) for n, pid in enumerate(["1909.10788", "2205.14135"])])
    shutil.copy(FIXTURES / "newsletter" / "2020-04-04.md", tmp_path / "issue.md")
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    digest = run_cli("import-digest", "--db", "c.db", "issue.md", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert digest.exit_code == 1 and one_line(digest) == f"Error: database or disk is full writing c.db: {nothing}"

    capped["pages"] = None
    for name, table in (("b.db", "papers"), ("c.db", "picks")):
        assert open_db(tmp_path / name)[table].count == 0
    assert run_cli("import-bibtex", "--db", "b.db", "refs.bib").exit_code == 0
    assert run_cli("import-digest", "--db", "c.db", "issue.md", env={"PAPERTRACK_ARXIV_URL": server.url}).exit_code == 0
    assert open_db(tmp_path / "b.db")["papers"].count == 150 and open_db(tmp_path / "c.db")["picks"].count == 2


@contextmanager
def tmpfs(path: Path, size: str):
    """A real small file system at `path` (root only; the test skips otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_harvest_onto_a_real_full_disk(tmp_path, replay):
    """3 MB of tmpfs, a harvest that needs more: one line, the run row failed, and after
    the file system grows the rerun completes with every paper once."""
    server = replay([make_paper(i, abstract=wordy(i)) for i in range(1, 2001)])
    with tmpfs(tmp_path / "small", "3m") as disk:
        write_queries(disk / "queries.yaml", BASIC_QUERIES)
        env = {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_DELAY": "0", "PAPERTRACK_ARXIV_PAGE_SIZE": "250"}
        cmd = ["harvest", "--query", "binarization"]
        full = start_papertrack(*cmd, cwd=disk, env=env)
        out, err = full.communicate(timeout=120)
        assert full.returncode == 1 and err == HARVEST_FULL, err
        assert run_rows(disk / "db" / "papers.db") == [("binarization", "failed", "database or disk is full")]
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        rerun = start_papertrack(*cmd, cwd=disk, env=env)
        assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
        db = open_db(disk / "db" / "papers.db")
        assert db["papers"].count == 2000 and db["papers_queries"].count == 2000
        db.close()


# ------------------------------------------------------------------ stopped and killed runs


@pytest.mark.parametrize(
    ("sig", "code", "reason"), [(signal.SIGTERM, 143, "stopped by SIGTERM"), (signal.SIGINT, 130, "stopped by Ctrl+C")]
)
def test_sigterm_and_ctrl_c_end_a_harvest_in_one_line(tmp_path, replay, sig, code, reason):
    server = replay(CORPUS[:30])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_DELAY": "0.4", "PAPERTRACK_ARXIV_PAGE_SIZE": "3"}
    first = start_papertrack("harvest", "--query", "binarization", cwd=tmp_path, env=env)
    wait_until(lambda: len(server.log) >= 2, what="two pages")
    waiting = start_papertrack("harvest", "--wait", cwd=tmp_path, env=env)  # stopped while it waits, too
    wait_until(lambda: waiting.stderr.readline(), what="the second harvest's waiting line")
    for proc in (waiting, first):  # the waiting one first, or it would start when the first ends
        proc.send_signal(sig)
    for proc in (waiting, first):
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == code
        assert err == f"Error: {reason}: the last complete page is kept; run the harvest again\n"
    assert run_rows(tmp_path / "db" / "papers.db") == [("binarization", "interrupted", reason)]
    rerun = start_papertrack("harvest", cwd=tmp_path, env={**env, "PAPERTRACK_ARXIV_DELAY": "0"})
    assert rerun.wait(timeout=60) == 0
    db = open_db(tmp_path / "db" / "papers.db")
    assert db["papers"].count == 30 and db["papers_queries"].count == 30


def test_a_signal_inside_a_codec_is_still_named_by_its_kind():
    """Python rewrites an exception raised inside a codec ("encoding with 'idna' codec
    failed (Interrupted: ...)"): the reason comes from the exception's type, not its text."""
    from papertrack.errors import Interrupted, stop_reason

    def stop(*_):
        raise Interrupted("stopped by SIGTERM")

    import codecs

    codecs.register(lambda name: codecs.CodecInfo(stop, stop, name="pt_stop") if name == "pt_stop" else None)
    with pytest.raises(Interrupted) as info:
        "x".encode("pt_stop")
    assert "codec failed" in str(info.value)  # what Python did to the text
    assert stop_reason(info.value) == "stopped by SIGTERM"
    assert stop_reason(KeyboardInterrupt()) == "stopped by Ctrl+C"


class Health:
    """Datasette's "Harvest health" canned query (in-process, one event loop), by query name."""

    def __init__(self, path: Path):
        self.ds, self.loop = datasette_for(path, metadata()), asyncio.new_event_loop()

    def __call__(self) -> dict[str, dict]:
        response = self.loop.run_until_complete(self.ds.client.get("/papers/stale_queries.json?_shape=array"))
        assert response.status_code == 200
        return {r["query"]: r for r in response.json()}


def test_a_killed_harvest_reads_interrupted_in_status_and_datasette(tmp_path, replay, run_cli):
    """kill -9 leaves the row `running`. Datasette cannot see processes: the row reads
    interrupted once its heartbeat is 2 minutes old. `status` can: the database's lock is
    free, so it marks the row at once. Neither blocks the next run."""
    server = replay(CORPUS[:30])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_DELAY": "0.4", "PAPERTRACK_ARXIV_PAGE_SIZE": "3"}
    proc = start_papertrack("harvest", "--query", "binarization", cwd=tmp_path, env=env)
    wait_until(lambda: len(server.log) >= 2, what="two pages")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    path = tmp_path / "db" / "papers.db"
    health = Health(path)
    row = health()["binarization"]
    assert (row["flag"], row["last_run"]) == ("running", "running")  # a fresh heartbeat: it may be alive
    db = open_db(path)
    with db.conn:  # two minutes and a bit later
        db.execute("update harvest_runs set heartbeat = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-121 seconds')")
    row = health()["binarization"]
    assert (row["flag"], row["last_run"], row["error"]) == ("interrupted", "interrupted", DEAD_RUN)
    assert db.execute("select status from harvest_runs").fetchone() == ("running",)  # Datasette only reads

    status = run_cli("status")
    assert status.stdout.splitlines()[2].split()[4] == "INTERRUPTED"
    assert db.execute("select status, error from harvest_runs").fetchone() == ("interrupted", DEAD_RUN)
    assert health()["binarization"]["flag"] == "interrupted"
    assert run_cli("harvest", "--query", "binarization", env={"PAPERTRACK_ARXIV_URL": server.url}).exit_code == 0
    assert health()["binarization"]["flag"] == "ok" and db["papers_queries"].count == 30


def test_the_heartbeat_and_the_health_rule(tmp_path):
    db = open_db(tmp_path / "h.db")
    for name, beat in (("alive", "-5 seconds"), ("silent", "-3 minutes"), ("old", None)):
        with db.conn:
            db.execute("insert into queries (name, source, query) values (?, 'arxiv', 'ti:x')", [name])
            db.execute(
                "insert into harvest_runs (query, started, status, heartbeat) values "
                "(?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour'), 'running', "
                "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?))",
                [name, beat],
            )
    flags = {r["query"]: (r["flag"], r["last_run"]) for r in db.query(HEALTH_SQL, {"days": ""})}
    # a row from before heartbeats (null) is judged by its start
    assert flags == {
        "alive": ("running", "running"),
        "silent": ("interrupted", "interrupted"),
        "old": ("interrupted", "interrupted"),
    }
    with db.conn:
        db.execute("update harvest_runs set heartbeat = '2000-01-01T00:00:00Z' where query = 'alive'")
    with Heartbeat(db, 1, every=0.05):
        wait_until(lambda: db.execute("select heartbeat > '2001' from harvest_runs where id = 1").fetchone()[0], 5)
    with Heartbeat(db, 2, every=0.05):  # a finished row is left alone
        with db.conn:
            db.execute("update harvest_runs set status = 'ok', heartbeat = 'kept' where id = 2")
        time.sleep(0.2)
    assert db.execute("select heartbeat from harvest_runs where id = 2").fetchone() == ("kept",)


def test_stock_datasette_runs_the_health_query(tmp_path):
    """The rule is plain SQL: Datasette without papertrack's plugin runs it too."""
    db = open_db(tmp_path / "papers.db")
    with db.conn:
        db.execute("insert into queries (name, source, query) values ('q', 'arxiv', 'ti:x')")
        db.execute("insert into harvest_runs (query, started, status) values ('q', '2020-01-01T00:00:00Z', 'running')")
    db.close()

    def stock_datasette(path: str) -> list:
        # Datasette loads no installed plugin when `sys._called_from_test` is set (its own test switch)
        code = "import sys; sys._called_from_test = True; from datasette.cli import cli; cli()"
        args = [str(tmp_path / "papers.db"), "-m", str(ROOT / "metadata.json"), "--get", path]
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert "papertrack" not in {p["name"] for p in stock_datasette("/-/plugins.json")}
    rows = stock_datasette("/papers/stale_queries.json?_shape=array")
    assert [(r["query"], r["flag"], r["last_run"], r["error"]) for r in rows] == [
        ("q", "interrupted", "interrupted", DEAD_RUN)
    ]


# ------------------------------------------------------------------ an unwritable database

PID = "2001.00001"
WALK = [
    ["harvest"],
    ["import-snapshot", "snap.jsonl"],
    ["import-bibtex", "refs.bib"],
    ["import-digest", "issue.md"],
    ["tag", PID, "x"],
    ["untag", PID, "x"],
    ["note", PID, "--summary", "s"],
    ["pick", PID, "--issue", "2020-03-19"],
    ["unpick", PID, "--issue", "2020-03-19"],
    ["key", PID, "lovelace2020new"],
    ["retag"],
    ["match"],
    ["status"],
    ["digest", "--from", "2020-01-01", "--to", "2020-12-31"],
    ["bibtex"],
    ["serve", "--port", "0"],
]
WRITERS = {"harvest", "import-snapshot", "import-bibtex", "import-digest"}  # they take the database's lock


def workdir(path: Path) -> Path:
    """A database with one paper, and every input file the walk's commands read."""
    path.mkdir(parents=True, exist_ok=True)
    db = open_db(path / "db" / "papers.db")
    with transaction(db):
        save_papers(db, [make_paper(1)])
    db.close()
    write_queries(path / "queries.yaml", BASIC_QUERIES)
    write_snapshot(path / "snap.jsonl", [record(1)])
    (path / "refs.bib").write_text("@article{a, title = {T}, author = {A B}, journal = {J}, year = {2020}}\n")
    shutil.copy(FIXTURES / "newsletter" / "2020-04-04.md", path / "issue.md")
    return path


def walk(run_cli, expect: str, commands=WALK) -> None:
    for command in commands:
        result = run_cli(*command)  # an exception escaping the CLI fails the test here
        assert result.exit_code != 0, f"{command}: {result.output}"
        line = one_line(result)
        assert expect in line, f"{command}: {line}"


def test_a_read_only_database_directory(run_cli, tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions (the read-only file system test covers root)")
    work = workdir(tmp_path / "w")
    monkeypatch.chdir(work)
    (work / "db" / "papers.db").chmod(0o444)
    (work / "db").chmod(0o555)
    try:
        walk(run_cli, "db/papers.db")
    finally:
        (work / "db").chmod(0o755)


def test_a_read_only_file_system(run_cli, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "ro", "8m") as mount:
        workdir(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        monkeypatch.chdir(mount)
        try:
            walk(run_cli, "db/papers.db")
        finally:
            monkeypatch.chdir(tmp_path)


def test_database_files_in_the_way(run_cli, tmp_path):
    """Mechanisms that stop root too: the WAL file is a directory; the database's parent is
    a regular file; the lock file is a directory (only the writers take the lock)."""
    workdir(tmp_path)
    (tmp_path / "db" / "papers.db-wal").mkdir()
    walk(run_cli, "cannot open db/papers.db: unable to open database file")
    (tmp_path / "db" / "papers.db-wal").rmdir()

    (tmp_path / "file").write_text("")
    for command in WALK[:-1]:
        result = run_cli(*command, "--db", "file/papers.db")
        assert result.exit_code != 0 and "file" in one_line(result), command

    (tmp_path / "db" / "papers.db.lock").unlink()  # left by the writers above
    (tmp_path / "db" / "papers.db.lock").mkdir()
    walk(run_cli, "Error: db/papers.db.lock: Is a directory", [c for c in WALK if c[0] in WRITERS])
    assert run_cli("tag", PID, "still-fine").exit_code == 0


@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_a_file_that_is_not_a_papertrack_database_is_refused_untouched(run_cli, tmp_path, kind):
    """Every command, readers and writers: a zero-byte file or another program's SQLite
    database is not quietly turned into a new papertrack database."""
    workdir(tmp_path)
    db = tmp_path / "db" / "papers.db"
    db.unlink()
    db.write_bytes(b"")
    if kind == "foreign":
        other = sqlite3.connect(db)
        other.execute("create table notes (body text)")
        other.commit()
        other.close()
    before = db.read_bytes()
    walk(run_cli, f"db/papers.db: {'an empty file' if kind == 'empty' else 'not a papertrack database'}")
    assert db.read_bytes() == before
    assert not (tmp_path / "db" / "papers.db-wal").exists()


# ------------------------------------------------------------------ environment overrides

BAD_ENV = [
    ("PAPERTRACK_ARXIV_URL", "export.arxiv.org", "--arxiv-url"),
    ("PAPERTRACK_ARXIV_DELAY", "abc", "--arxiv-delay"),
    ("PAPERTRACK_ARXIV_DELAY", "-1", "--arxiv-delay"),
    ("PAPERTRACK_ARXIV_PAGE_SIZE", "5000", "--arxiv-page-size"),
    ("PAPERTRACK_ARXIV_OAI_URL", "oaipmh.arxiv.org/oai", "--arxiv-oai-url"),
    ("PAPERTRACK_DBLP_SPARQL_URL", "ftp://sparql.dblp.org", "--dblp-sparql-url"),
    ("PAPERTRACK_DBLP_DELAY", "soon", "--dblp-delay"),
    ("PAPERTRACK_DBLP_PAGE_SIZE", "0", "--dblp-page-size"),
    ("PAPERTRACK_CONTACT", "ada at example dot org", "--contact"),
    ("PAPERTRACK_CONTACT", "ada@example.org\r\nX-Evil: 1", "--contact"),
    ("PAPERTRACK_CONTACT", "ada@例え.jp", "--contact"),  # a header cannot carry it
    ("PAPERTRACK_CONTACT", "https://例え.jp/ada", "--contact"),
    ("PAPERTRACK_LOCK_DIR", "queries.yaml", "--lock-dir"),
    ("PAPERTRACK_IMPORT_BATCH", "abc", "--batch"),
    ("PAPERTRACK_IMPORT_BATCH", "0", "--batch"),
]
USERS = {  # the commands each override reaches (the first prefix that fits)
    "PAPERTRACK_ARXIV_OAI": [["harvest"]],
    "PAPERTRACK_ARXIV": [["harvest"], ["import-bibtex", "refs.bib"], ["import-digest", "issue.md"]],
    "PAPERTRACK_CONTACT": [["harvest"], ["import-bibtex", "refs.bib"], ["import-digest", "issue.md"]],
    "PAPERTRACK_DBLP": [["harvest"]],
    "PAPERTRACK_LOCK_DIR": [["harvest"], ["import-snapshot", "snap.jsonl"], ["import-bibtex", "refs.bib"]],
    "PAPERTRACK_IMPORT_BATCH": [["import-snapshot", "snap.jsonl"]],
}


@pytest.mark.parametrize(("variable", "value", "option"), BAD_ENV)
def test_a_bad_environment_override_is_one_line_naming_it(run_cli, tmp_path, variable, value, option):
    workdir(tmp_path)
    commands = next(users for prefix, users in USERS.items() if variable.startswith(prefix))
    for command in commands:
        result = run_cli(*command, env={variable: value})
        assert result.exit_code == 2, command
        assert one_line(result).startswith(f"Error: Invalid value for '{option}' (env var: '{variable}'): "), result.stderr
