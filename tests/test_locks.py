"""One harvest at a time, across processes: the database's lock and the machine-wide arXiv
and DBLP locks (flock), with real processes against a local arXiv stand-in."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from papertrack.errors import LockHeld
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.locks import Lock, database_lock, default_lock_dir, endpoint_lock
from papertrack.store.schema import open_db
from tests.helpers import BASIC_QUERIES, make_paper, start_papertrack, wait_until, write_queries

BINARY = [make_paper(i) for i in range(1, 25)]
QUANT = [
    make_paper(i, title=f"Post-training quantization {i}", abstract=f"We study low-bit weights {i}.") for i in range(50, 56)
]
DELAY = 0.3
HOLDER = r"papertrack harvest \(pid (\d+), since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)"


def slow(server, delay: float = DELAY) -> dict[str, str]:
    return {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_DELAY": str(delay), "PAPERTRACK_ARXIV_PAGE_SIZE": "4"}


def gaps(server) -> list[float]:
    times = [r["t"] for r in server.log.requests]
    return [b - a for a, b in zip(times, times[1:])]


def stored_once(path, papers) -> None:
    db = open_db(path)
    ids = sorted(r[0] for r in db.execute("select id from papers"))
    assert ids == sorted(p.id for p in papers)
    assert db["papers_queries"].count == len(papers)
    assert db["papers_authors"].count == 2 * len(papers)
    db.close()


# ------------------------------------------------------------------ two real processes


@pytest.mark.parametrize("second_db", ["db/papers.db", "db/other.db"])
def test_two_harvest_processes_take_turns_at_arxivs_pace(tmp_path, replay, second_db):
    """Cron and a manual run overlapping: on one database the second waits for the
    database; on another it waits for arXiv, and keeps the delay from the first one's
    last request. The request log has no gap under the delay; every paper is stored once."""
    server = replay(BINARY + QUANT)
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    first = start_papertrack("harvest", "--via", "api", cwd=tmp_path, env=slow(server))
    wait_until(lambda: len(server.log) >= 1, what="the first harvest's first request")
    second = start_papertrack("harvest", "--via", "api", "--db", second_db, "--wait", cwd=tmp_path, env=slow(server))
    _, first_err = first.communicate(timeout=60)
    _, second_err = second.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    held = (
        "db/papers.db" if second_db == "db/papers.db" else re.escape(f"arXiv (127.0.0.1:{server.server.server_address[1]})")
    )
    assert re.fullmatch(f"{held} is in use by {HOLDER}; waiting until it is free\n", second_err), second_err
    assert re.search(r"pid (\d+)", second_err).group(1) == str(first.pid)
    assert len(server.log) >= 6 and min(gaps(server)) >= DELAY - 0.01
    stored_once(tmp_path / "db" / "papers.db", BINARY + QUANT)
    stored_once(tmp_path / second_db, BINARY + QUANT)


def test_a_second_harvest_exits_75_at_once_and_the_lock_dies_with_its_holder(tmp_path, replay, run_cli):
    many = [make_paper(i) for i in range(1, 41)]  # 10 pages: the first harvest outlives the checks
    server = replay(many)
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = slow(server, 0.5)
    first = start_papertrack("harvest", "--via", "api", "--query", "binarization", cwd=tmp_path, env=env)
    try:
        wait_until(lambda: len(server.log) >= 2, what="two requests of the first harvest")
        started = time.monotonic()
        busy = run_cli("harvest", "--via", "api", env=env)
        assert busy.exit_code == 75 and time.monotonic() - started < 2
        assert re.fullmatch(
            f"Error: db/papers.db is in use by {HOLDER}; pass --wait \\[SECONDS\\] to wait for it\n", busy.stderr
        ), busy.stderr
        assert re.search(r"pid (\d+)", busy.stderr).group(1) == str(first.pid)

        started = time.monotonic()
        waited = run_cli("harvest", "--via", "api", "--wait", "0.5", env=env)
        assert waited.exit_code == 75 and time.monotonic() - started >= 0.5
        waiting, error = waited.stderr.splitlines()
        assert re.fullmatch(f"db/papers.db is in use by {HOLDER}; waiting up to 0.5 s", waiting)
        assert re.fullmatch(f"Error: db/papers.db is still in use by {HOLDER} after 0.5 s", error)

        status = run_cli("status")  # a live harvest's row is left alone
        assert [line.split()[:2] + [line.split()[4]] for line in status.stdout.splitlines()[2:]] == [
            ["binarization", "arxiv", "RUNNING"],
            ["quantization", "arxiv", "NEVER"],
        ]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # no stale lock: status sees the row's owner is gone, and the next harvest starts at once
    flags = {line.split()[0]: line.split()[4] for line in run_cli("status").stdout.splitlines()[2:]}
    assert flags["binarization"] == "INTERRUPTED"
    rerun = run_cli("harvest", "--via", "api", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert rerun.exit_code == 0, rerun.output
    stored_once(tmp_path / "db" / "papers.db", many)
    db = open_db(tmp_path / "db" / "papers.db")
    assert [r[0] for r in db.execute("select status from harvest_runs where query = 'binarization' order by id")] == [
        "interrupted",
        "ok",
    ]
    assert (tmp_path / "db" / "papers.db.lock").exists()  # still there, and harmless


BIB_WITHOUT_ARXIV = "@article{lovelace2020, title = {Notes on the Analytical Engine}, author = {Ada Lovelace}, journal = {Annals}, year = {2020}}\n"
BIB_WITH_ARXIV = "@misc{new2021, title = {A paper to fetch}, author = {Ada Lovelace}, eprint = {2101.00001}, archiveprefix = {arXiv}, year = {2021}}\n"


def test_only_commands_that_talk_to_arxiv_take_its_lock(tmp_path, replay, run_cli):
    """While a harvest of another database holds arXiv (and its own database), commands
    that need neither go ahead; those that must fetch from arXiv exit 75 naming it."""
    server = replay(BINARY + [make_paper("2101.00001")])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    (tmp_path / "plain.bib").write_text(BIB_WITHOUT_ARXIV)
    (tmp_path / "fetch.bib").write_text(BIB_WITH_ARXIV)
    env = slow(server, 0.5)
    harvesting = start_papertrack(
        "harvest", "--via", "api", "--db", "a.db", "--query", "binarization", cwd=tmp_path, env=env
    )
    try:
        wait_until(lambda: len(server.log) >= 2, what="the harvest's first page")
        assert run_cli("import-bibtex", "--db", "b.db", "plain.bib", env=env).exit_code == 0
        fetching = run_cli("import-bibtex", "--db", "b.db", "fetch.bib", env=env)
        arxiv = re.escape(f"arXiv (127.0.0.1:{server.server.server_address[1]})")
        assert fetching.exit_code == 75
        assert re.fullmatch(
            f"Error: {arxiv} is in use by {HOLDER}; pass --wait \\[SECONDS\\] to wait for it\n", fetching.stderr
        )
        # a tag on the database being harvested: SQLite serialises it with the harvest's pages
        assert run_cli("tag", BINARY[-1].id, "editors-pick", "--db", "a.db").exit_code == 0  # newest: on page 1
    finally:
        harvesting.send_signal(signal.SIGKILL)
        harvesting.wait()
    b = open_db(tmp_path / "b.db")
    assert [r[0] for r in b.execute("select id from papers")] == ["bib:lovelace2020"]
    assert run_cli("import-bibtex", "--db", "b.db", "fetch.bib", env=env).exit_code == 0
    assert b.execute("select updated is not null from papers where id = '2101.00001'").fetchone() == (1,)


def test_the_lock_files_are_where_the_docs_say(tmp_path, replay, run_cli):
    server = replay(BINARY)
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    assert run_cli("harvest", "--via", "api", env={"PAPERTRACK_ARXIV_URL": server.url}).exit_code == 0
    lock_dir = os.environ["PAPERTRACK_LOCK_DIR"]  # conftest gives each test its own
    port = server.server.server_address[1]
    assert sorted(os.listdir(lock_dir)) == [f"arxiv-127.0.0.1-{port}.lock"]  # no DBLP query: no DBLP lock
    note = json.loads(open(os.path.join(lock_dir, f"arxiv-127.0.0.1-{port}.lock")).read())
    assert note["owner"] == "papertrack harvest" and note["last_request"] <= time.time()
    assert (tmp_path / "db" / "papers.db.lock").is_file()
    assert default_lock_dir().parent.is_dir() and default_lock_dir().name == "papertrack-locks"
    assert endpoint_lock("/x", "arXiv", "https://export.arxiv.org/api/query").path.name == "arxiv-export.arxiv.org.lock"
    bad = run_cli("harvest", "--via", "api", env={"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_LOCK_DIR": "queries.yaml"})
    assert bad.exit_code == 2 and "PAPERTRACK_LOCK_DIR" in bad.stderr and bad.stderr.count("\n") == 1


# ------------------------------------------------------------------ the lock itself


HOLD = """
import sys, time
from papertrack.sources.locks import database_lock
with database_lock(sys.argv[1], owner="papertrack harvest"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_lock_names_its_holder_and_dies_with_it(tmp_path):
    db_path = tmp_path / "papers.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(LockHeld, match=f"^{re.escape(str(db_path))} is in use by {HOLDER}$") as caught:
            database_lock(db_path).acquire()
        assert caught.value.exit_code == 75 and f"pid {holder.pid}," in str(caught.value)
        with pytest.raises(LockHeld):
            database_lock(db_path, shared=True).acquire()  # how `status` asks: is a harvest alive?
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with database_lock(db_path) as lock:  # kill -9 freed it: nothing to delete by hand
        assert lock.held and json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_waiting_for_a_lock(tmp_path):
    path = tmp_path / "x.lock"
    first = Lock(path, "x").acquire()
    heard: list[str] = []
    started = time.monotonic()
    with pytest.raises(LockHeld, match=r"^x is still in use by papertrack \(pid \d+, since .*\) after 0\.3 s$") as caught:
        Lock(path, "x", wait=0.3, on_wait=heard.append).acquire()
    assert time.monotonic() - started >= 0.3 and caught.value.waited == 0.3
    assert len(heard) == 1 and heard[0].endswith("; waiting up to 0.3 s")
    for wait in (5.0, math.inf):  # let go of while another waits: taken at once
        threading.Timer(0.2, first.release).start()
        started = time.monotonic()
        first = Lock(path, "x", wait=wait).acquire()
        assert 0.15 < time.monotonic() - started < 2
    first.release()
    shared = [Lock(path, "x", shared=True).acquire() for _ in range(2)]  # readers do not exclude each other
    with pytest.raises(LockHeld):
        Lock(path, "x").acquire()
    for s in shared:
        s.release()


def test_pacing_carries_over_to_the_next_holder(tmp_path, replay):
    """Two clients, one after the other, as two processes would be: the second one's first
    request still waits the delay from the first one's last."""
    server = replay(BINARY)
    for _ in range(2):
        client = ArxivClient(server.url, delay=0.5, lock=endpoint_lock(tmp_path, "arXiv", server.url))
        client.page("ti:paper")
        client.close()
    assert len(server.log) == 2 and gaps(server)[0] >= 0.49
    unlocked = [ArxivClient(server.url, delay=0.5) for _ in range(2)]  # the same without the lock: no wait
    for client in unlocked:
        client.page("ti:paper")
    assert gaps(server)[-1] < 0.4
