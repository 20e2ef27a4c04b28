"""Harvest end to end: CLI -> HTTP (local arXiv stand-in) -> SQLite, incremental and fault-safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from papertrack.config import parse_config
from papertrack.ingest import arxiv_api as harvest_module
from papertrack.ingest.harvest import harvest
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_standin import Faults, ReplayArxiv, error_feed
from papertrack.store.schema import open_db
from tests.helpers import BASIC_QUERIES, api, make_paper, write_queries

CONFIG = parse_config(BASIC_QUERIES)


def binary(n, **kw):
    return make_paper(n, **kw)


def quant(n, **kw):
    kw.setdefault("title", f"Post-training quantization {n}")
    kw.setdefault("abstract", f"We study low-bit weights {n}.")
    return make_paper(n, **kw)


def counts(db):
    return {t: db[t].count for t in ("papers", "papers_queries", "papers_tags", "papers_authors")}


def test_paging_over_several_pages(db, replay):
    server = replay([binary(i) for i in range(1, 11)])
    client = ArxivClient(server.url, delay=0, page_size=3)
    [report, _] = harvest(db, CONFIG, **api(client))
    assert (report.new, report.requests, report.status) == (10, 4, "ok")
    assert db["papers"].count == 10
    starts = [r["args"]["start"] for r in server.log.requests if "binary" in r["args"]["search_query"]]
    assert starts == ["0", "3", "6", "9"]
    assert {r["args"]["sortBy"] for r in server.log.requests} == {"lastUpdatedDate"}


def test_nothing_new_costs_one_request_per_query(db, replay):
    server = replay([binary(i) for i in range(1, 11)] + [quant(i) for i in range(20, 25)])
    client = ArxivClient(server.url, delay=0)
    harvest(db, CONFIG, **api(client))
    before = len(server.log)
    reports = harvest(db, CONFIG, **api(client))
    assert len(server.log) - before == 2
    assert [(r.requests, r.new, r.updated) for r in reports] == [(1, 0, 0), (1, 0, 0)]
    assert [r.total for r in reports] == [10, 5]


def test_new_papers_and_new_versions_are_picked_up_and_paging_stops_early(db, replay):
    papers = [binary(i) for i in range(1, 11)]
    server = replay(papers)
    client = ArxivClient(server.url, delay=0, page_size=5)
    harvest(db, CONFIG, ["binarization"], **api(client))
    revised = replace(papers[0], version=2, updated="2021-06-01T00:00:00Z", title="Paper 1, revised: binary neural network")
    server.set_papers([revised, *papers[1:], binary(11, updated="2021-05-01T00:00:00Z")])
    before = len(server.log)
    [report] = harvest(db, CONFIG, ["binarization"], **api(client), lookback=timedelta(0))
    assert (report.new, report.updated, report.requests) == (1, 1, 1)
    assert len(server.log) - before == 1
    row = db["papers"].get("2001.00001")
    assert row["version"] == 2 and row["title"].startswith("Paper 1, revised")
    assert row["first_seen"] <= row["last_seen"]
    hits = db.execute("select rowid from papers_fts where papers_fts match 'revised'").fetchall()
    assert len(hits) == 1  # the FTS index follows the update


def test_late_announced_paper_within_the_lookback_is_found(db, replay):
    papers = [binary(i, updated=f"2020-03-{i:02d}T00:00:00Z") for i in range(1, 21)]
    server = replay(papers)
    client = ArxivClient(server.url, delay=0)
    harvest(db, CONFIG, ["binarization"], **api(client))
    # submitted (dated) two days before the watermark, but listed only now
    late = binary(99, updated="2020-03-18T00:00:00Z", published="2020-03-18T00:00:00Z")
    server.set_papers([*papers, late])
    before = len(server.log)
    [report] = harvest(db, CONFIG, ["binarization"], **api(client))
    assert (report.new, report.updated, len(server.log) - before) == (1, 0, 1)


def test_two_queries_one_paper_one_row_both_tags(db, replay):
    both = binary(5, title="Binary neural network quantization")
    server = replay([both, binary(6), quant(7)])
    harvest(db, CONFIG, **api(ArxivClient(server.url, delay=0)))
    assert db["papers"].count == 3
    tags = [
        r["name"]
        for r in db.query(
            "select t.name from papers_tags pt join tags t on t.id = pt.tags_id where papers_id = ? order by t.name",
            [both.id],
        )
    ]
    assert tags == ["binarization", "low-bit", "quantization"]
    assert db.execute("select count(*) from papers_queries where papers_id = ?", [both.id]).fetchone()[0] == 2
    origins = {r[0] for r in db.execute("select origin from papers_tags")}
    assert origins == {"query"}


class RejectingArxiv(ReplayArxiv):
    """A stand-in whose grammar refuses any query naming `word`, as if arXiv's and ours disagreed."""

    word = "quantization"

    def answer(self, qs: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if self.word in qs.get("search_query", ""):
            return 400, error_feed(f"malformed query: unbalanced parenthesis near {self.word}"), {}
        return super().answer(qs)


def test_error_feed_fails_that_query_only(db):
    with RejectingArxiv([binary(1), quant(2)]) as server:
        reports = harvest(db, CONFIG, **api(ArxivClient(server.url, delay=0)))
    assert [r.status for r in reports] == ["ok", "failed"]
    assert "arXiv rejected the query" in reports[1].error and "parenthesis" in reports[1].error
    assert reports[1].requests == 1  # not retried
    run = db.execute("select status, error from harvest_runs where query = 'quantization'").fetchone()
    assert run[0] == "failed" and "parenthesis" in run[1]


def test_a_query_arxiv_would_refuse_fails_before_any_request(db, replay):
    broken = replace(CONFIG.queries[1], query="ti:quantization AND (cat:cs.LG")  # not from queries.yaml
    server = replay([binary(1), quant(2)])
    reports = harvest(db, replace(CONFIG, queries=(CONFIG.queries[0], broken)), **api(ArxivClient(server.url, delay=0)))
    assert [r.status for r in reports] == ["ok", "failed"]
    assert reports[1].error == "unbalanced parentheses: a '(' is never closed (arXiv answers HTTP 400)"
    assert reports[1].requests == 0 and not [r for r in server.log.requests if "quantization" in r["args"]["search_query"]]


def test_the_harvest_sends_the_query_as_arxiv_reads_it(db, replay):
    config = parse_config(
        "queries:\n  - name: q\n    source: arxiv\n"
        "    query: 'ti:(quantization pruning) cat:cs.LG AND submittedDate:[2020 TO 2020] ANDNOT au:del_maestro'\n"
    )
    server = replay(
        [
            quant(1, title="Pruning 1", categories=["cs.CV"]),
            quant(2, authors=["Ada del Maestro"]),
            quant(3, title="Paper 3", published="2019-12-31T10:00:00Z"),
        ]
    )
    [report] = harvest(db, config, **api(ArxivClient(server.url, delay=0)))
    assert report.status == "ok" and {r[0] for r in db.execute("select id from papers")} == {"2001.00001"}
    [sent] = {r["args"]["search_query"] for r in server.log.requests}
    assert sent == (
        '(ti:quantization OR ti:pruning OR cat:cs.LG) AND submittedDate:"202001010000 TO 202012312359" '
        'ANDNOT au:"del maestro"'
    )


def test_faults_are_retried_without_duplicates(db, replay):
    papers = [binary(i) for i in range(1, 21)]
    server = replay(papers, Faults(fail_every=3, empty_every=4, truncate_every=5, retry_after="0"))
    client = ArxivClient(server.url, delay=0, page_size=4)
    [report, _] = harvest(db, CONFIG, **api(client))
    assert report.status == "ok" and report.new == 20
    assert db["papers"].count == 20 and db["papers_queries"].count == 20
    assert report.requests == len([r for r in server.log.requests if "binary" in r["args"].get("search_query", "")])


def test_killed_between_pages_then_resumed(db, replay):
    papers = [binary(i) for i in range(1, 11)]
    server = replay(papers)
    client = ArxivClient(server.url, delay=0, page_size=4)

    def die(report, page):
        if page.start == 4:
            raise KeyboardInterrupt  # the process dies after its second page was stored

    with pytest.raises(KeyboardInterrupt):
        harvest(db, CONFIG, ["binarization"], **api(client), on_page=die)
    assert db["papers"].count == 8
    progress = json.loads(db.execute("select progress from queries where name = 'binarization'").fetchone()[0])
    assert progress["start"] == 8
    before = len(server.log)  # the dying run's prefetch of start=8 may still land after this
    [report] = harvest(db, CONFIG, ["binarization"], **api(ArxivClient(server.url, delay=0, page_size=4)))
    assert report.new == 2 and report.requests == 1
    assert db["papers"].count == 10 and db["papers_queries"].count == 10
    assert {r["args"]["start"] for r in server.log.requests[before:]} == {"8"}
    assert db.execute("select progress from queries where name = 'binarization'").fetchone()[0] is None
    statuses = [r[0] for r in db.execute("select status from harvest_runs order by id")]
    assert statuses == ["interrupted", "ok"]


def test_results_beyond_the_paging_limit_are_split_into_date_windows(db, replay, monkeypatch):
    monkeypatch.setattr(harvest_module, "PAGING_LIMIT", 10)
    papers = [binary(i, published=f"20{10 + i % 10}-0{1 + i % 9}-15T00:00:00Z") for i in range(1, 36)]
    server = replay(papers)
    [report, _] = harvest(db, CONFIG, **api(ArxivClient(server.url, delay=0, page_size=4)))
    assert report.status == "ok" and report.new == 35 and db["papers"].count == 35
    windowed = [r["args"]["search_query"] for r in server.log.requests if "submittedDate" in r["args"]["search_query"]]
    assert windowed, "the query was not split"
    assert max(int(r["args"]["start"]) for r in server.log.requests) < 10


def test_a_split_backfill_keeps_papers_dated_ahead_of_this_machines_clock(db, replay, monkeypatch):
    """arXiv's clock ahead of this machine's: the windows of a backfill too large for one
    listing end at arXiv's dates (the newest result), never at this machine's time."""
    monkeypatch.setattr(harvest_module, "PAGING_LIMIT", 10)
    ahead = datetime.now(UTC).date() + timedelta(days=10)
    days = [ahead + timedelta(days=i % 30) for i in range(1, 36)]
    papers = [binary(i, published=f"{d}T10:00:00Z", updated=f"{d}T10:00:00Z") for i, d in enumerate(days, 1)]
    config = parse_config(BASIC_QUERIES.replace("tags: [binarization]", f"tags: [binarization]\n    since: {ahead}"))
    server = replay(papers)
    [report] = harvest(db, config, ["binarization"], **api(ArxivClient(server.url, delay=0, page_size=4)))
    assert report.status == "ok" and report.new == 35 and db["papers"].count == 35
    sent = [r["args"]["search_query"] for r in server.log.requests]
    assert len(set(sent)) > 2 and all("submittedDate:[" in q for q in sent)  # split into windows
    assert sent[0].endswith(" TO 299912312359]")  # open-ended: no date from this machine's clock


def test_since_limits_the_backfill(db, replay):
    config = parse_config(BASIC_QUERIES.replace("tags: [binarization]", "tags: [binarization]\n    since: 2020-01-10"))
    server = replay([binary(i) for i in range(1, 21)])
    harvest(db, config, ["binarization"], **api(ArxivClient(server.url, delay=0)))
    published = [r[0] for r in db.execute("select published from papers")]
    assert published and min(published) >= "2020-01-10"
    assert "submittedDate:[202001100000 TO" in server.log.requests[0]["args"]["search_query"]


def test_unicode_and_latex_titles_round_trip(db, replay):
    title = r"$\ell_1$-Pruning of Schrödinger “binary neural network” <b>Nets</b> & Ångström"
    server = replay([binary(1, title=title, authors=["Zoë Çelik", "José García"])])
    harvest(db, CONFIG, ["binarization"], **api(ArxivClient(server.url, delay=0)))
    row = db["papers"].get("2001.00001")
    assert row["title"] == title
    assert json.loads(row["authors"]) == ["Zoë Çelik", "José García"]
    assert db.execute("select count(*) from papers_fts where papers_fts match 'schrödinger'").fetchone()[0] == 1
    names = {r[0] for r in db.execute("select name from authors")}
    assert names == {"Zoë Çelik", "José García"}


# ------------------------------------------------------------------ CLI end to end


def test_cli_harvest_twice_then_status(run_cli, replay, tmp_path):
    server = replay([binary(i) for i in range(1, 6)] + [quant(9)])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url}
    first = run_cli("harvest", env=env)
    assert first.exit_code == 0, first.output
    lines = [line.split() for line in first.output.splitlines()[2:]]
    assert lines == [["binarization", "1", "5", "0", "5", "ok"], ["quantization", "1", "1", "0", "1", "ok"]]
    second = run_cli("harvest", "--query", "quantization", "--via", "api", env=env)
    assert [line.split() for line in second.output.splitlines()[2:]] == [["quantization", "1", "0", "0", "1", "ok"]]
    assert (tmp_path / "db" / "papers.db").exists()
    rows = {r[0]: r for r in (line.split() for line in run_cli("status").output.splitlines()[2:])}
    assert [(r[0], r[1], r[2], r[4]) for r in rows.values()] == [
        ("binarization", "arxiv", "5", "ok"),
        ("quantization", "arxiv", "1", "ok"),
    ]
    db = open_db(tmp_path / "db" / "papers.db")
    with db.conn:  # binarization last succeeded long ago
        db.execute("update queries set last_success = '2000-01-01T00:00:00Z' where name = 'binarization'")
    flags = [line.split()[4] for line in run_cli("status").output.splitlines()[2:]]
    assert flags == ["STALE", "ok"]
    assert [line.split()[4] for line in run_cli("status", "--stale-days", "36500").output.splitlines()[2:]] == ["ok", "ok"]
    assert run_cli("status", "--stale-days", "1e9").exit_code == 2  # a usage error, not a traceback


def test_cli_failed_query_exits_1_and_others_run(run_cli, replay, tmp_path):
    server = replay([binary(1)])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    result = run_cli("harvest", env={"PAPERTRACK_ARXIV_URL": server.url.replace("/api/query", "/nope")})
    assert result.exit_code == 1
    assert result.output.count("failed") == 2
    status = run_cli("status")
    assert status.output.count("FAILED") == 2


def test_cli_spaces_requests_by_papertrack_arxiv_delay(run_cli, replay, tmp_path):
    server = replay([binary(i) for i in range(1, 6)] + [quant(9)])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url, "PAPERTRACK_ARXIV_DELAY": "0.4", "PAPERTRACK_ARXIV_PAGE_SIZE": "2"}
    assert run_cli("harvest", env=env).exit_code == 0
    times = [r["t"] for r in server.log.requests]
    assert len(times) == 4  # binarization: 3 pages of 2; quantization: 1
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.39  # across queries too


def test_cli_error_feed_fails_that_query_with_arxivs_message(run_cli, scripted_server, tmp_path):
    """arXiv answers the first query with its error feed (HTTP 400), the second normally:
    exit 1, the message and the query named, not retried, the other query stored."""
    from xml.etree import ElementTree as ET

    from papertrack.sources.arxiv_standin import entry_element, feed_xml
    from tests.helpers import FIXTURES

    page = feed_xml({}, 1, 0, [ET.tostring(entry_element(quant(2)))])
    server = scripted_server([(400, (FIXTURES / "arxiv" / "error_feed.xml").read_bytes(), {}), (200, page, {})])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    result = run_cli("harvest", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert result.exit_code == 1
    assert [line.split()[:2] + line.split()[-1:] for line in result.stdout.splitlines()[2:]] == [
        ["binarization", "1", "failed"],
        ["quantization", "1", "ok"],
    ]
    assert "binarization: arXiv rejected the query" in result.stderr and "incorrect id format for xyz" in result.stderr
    assert len(server.requests) == 2
    db = open_db(tmp_path / "db" / "papers.db")
    assert db.execute("select query, status from harvest_runs order by id").fetchall() == [
        ("binarization", "failed"),
        ("quantization", "ok"),
    ]
    assert "incorrect id format" in db.execute("select error from harvest_runs where query = 'binarization'").fetchone()[0]
    assert [r[0] for r in db.execute("select id from papers")] == [quant(2).id]


def test_killed_process_resumes_without_duplicates(tmp_path, replay):
    """A real SIGKILL between pages: the rerun finishes the job, nothing lost or doubled."""
    server = replay([binary(i) for i in range(1, 13)])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    env = {
        **os.environ,
        "PAPERTRACK_ARXIV_URL": server.url,
        "PAPERTRACK_ARXIV_DELAY": "0.6",
        "PAPERTRACK_ARXIV_PAGE_SIZE": "4",
    }
    cmd = [sys.executable, "-m", "papertrack", "harvest", "--query", "binarization"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while len(server.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db = open_db(tmp_path / "db" / "papers.db")
    assert 4 <= db["papers"].count < 12
    done = subprocess.run(cmd, cwd=tmp_path, env={**env, "PAPERTRACK_ARXIV_DELAY": "0"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert db["papers"].count == 12 and db["papers_queries"].count == 12
    assert db.execute("select count(*) from papers_authors").fetchone()[0] == 24
    assert [r[0] for r in db.execute("select status from harvest_runs order by id")] == ["interrupted", "ok"]


@pytest.mark.parametrize(
    "command",
    [
        ["harvest"],
        ["status"],
        ["digest", "--from", "2020-01-01", "--to", "2020-02-01"],
        ["bibtex"],
        ["tag", "1909.04977", "x"],
        ["retag"],
        ["rank"],
        ["match"],
        ["match", "--try", "ti:pruning"],
    ],
)
def test_bad_database_file_is_one_line(run_cli, tmp_path, command):
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    (tmp_path / "junk.db").write_text("not sqlite " * 100)
    result = run_cli(*command, "--db", "junk.db")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: junk.db: not a papertrack database (file is not a database)"
    if command[0] != "harvest":  # commands that only read or edit never create a database
        missing = run_cli(*command, "--db", "missing.db")
        assert missing.exit_code == 2 and "no database at missing.db" in missing.output
        assert not (tmp_path / "missing.db").exists()
