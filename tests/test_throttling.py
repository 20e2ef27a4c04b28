"""Services that refuse us: a throttling endpoint ends its source's part of the run
politely (deferred, exit 75, run first next time), a bot-check page is one line and
touches nothing, and every request names papertrack and its operator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from papertrack.sources.arxiv_standin import ReplayArxiv
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db
from tests.helpers import make_paper, write_queries
from tests.oai_world import DAY0, QUERIES, World, base_corpus
from tests.sparql_standin import ANUBIS_PAGE, SparqlStandIn, record

TOC_KEY = "db/conf/cvpr/cvpr2020.bht"
WITH_VENUE = """\
queries:
  - name: binarization
    source: arxiv
    query: 'ti:binary AND cat:cs.LG'
  - name: quantization
    source: arxiv
    query: 'ti:quantization AND cat:cs.LG'
  - name: cvpr2020
    source: dblp
    query: 'toc:db/conf/cvpr/cvpr2020.bht:'
"""


class ThrottlingArxiv(ReplayArxiv):
    """arXiv's query API that answers 429 (Retry-After: 1) from request `since` on, while `throttling`."""

    since, throttling = 1, True

    def answer(self, qs):
        status, body, headers = super().answer(qs)
        if self.throttling and len(self.log) >= self.since:
            return 429, b"<html><body>Rate exceeded.</body></html>", {"Retry-After": "1", "Content-Type": "text/html"}
        return status, body, headers


@pytest.fixture
def sparql():
    servers = []

    def start(records, **kw) -> SparqlStandIn:
        servers.append(SparqlStandIn([{**r, "toc": TOC_KEY} for r in records], **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def rows(result):
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}


def stored_with_doi(tmp_path):
    """A database holding the papers the dblp records name by DOI: linking them asks arXiv nothing."""
    db = open_db(tmp_path / "db" / "papers.db")
    save_papers(db, [make_paper(i, title=f"Stored paper {i}", doi=f"10.1109/CVPR.2020.{i}") for i in (1, 2)])
    db.conn.commit()
    return db


def test_a_429_storm_defers_the_rest_of_arxiv_and_dblp_without_asking_dblp(run_cli, tmp_path, sparql):
    arxiv = ThrottlingArxiv([make_paper(5, title="Binary things"), make_paper(6, title="Quantization things")]).__enter__()
    dblp = sparql(
        [record(f"conf/cvpr/P{i}", f"A venue paper {i}", ["Ada Lovelace"], doi=f"10.1109/CVPR.2020.{i}") for i in (1, 2)]
    )
    db = stored_with_doi(tmp_path)
    write_queries(tmp_path / "queries.yaml", WITH_VENUE)
    env = {"PAPERTRACK_ARXIV_URL": arxiv.url, "PAPERTRACK_DBLP_SPARQL_URL": dblp.url, "PAPERTRACK_DBLP_DELAY": "0"}
    try:
        result = run_cli("harvest", env=env)
        assert result.exit_code == 75, result.output
        assert len(arxiv.log) == 6  # one request and its five retries, then arXiv is asked nothing more
        table = rows(result)
        assert {q: r[-1] for q, r in table.items()} == {
            "binarization": "deferred",
            "quantization": "deferred",
            "cvpr2020": "deferred",  # linking dblp's records may need arXiv: dblp is not asked for them
        }
        assert (table["binarization"][0], table["quantization"][0], table["cvpr2020"][0]) == ("6", "0", "0")
        assert len(dblp.log) == 0
        [line] = result.stderr.splitlines()
        assert line.startswith("arXiv is throttling this machine (HTTP 429 on 6 requests); try again after ")
        assert line.endswith("(it asked for 1 s); deferred: binarization, quantization, cvpr2020 (they run first next time)")
        flags = {line.split()[0]: line.split()[4] for line in run_cli("status").stdout.splitlines()[2:]}
        assert flags == {"binarization": "DEFERRED", "quantization": "DEFERRED", "cvpr2020": "DEFERRED"}
        arxiv.throttling = False
        later = run_cli("harvest", "--via", "api", env=env)
        assert later.exit_code == 0, later.output
        assert {q: r[-1] for q, r in rows(later).items()} == {"binarization": "ok", "quantization": "ok", "cvpr2020": "ok"}
        assert db.execute("select dblp_key from papers where id = ?", [make_paper(1).id]).fetchone()[0] == "conf/cvpr/P1"
        assert db.execute("select count(*) from papers_queries").fetchone()[0] == 4
        assert len(dblp.log) == 1
    finally:
        arxiv.__exit__(None, None, None)


def test_deferred_queries_go_first_next_time(run_cli, tmp_path, sparql):
    arxiv = ThrottlingArxiv([make_paper(5, title="Binary things"), make_paper(6, title="Quantization things")]).__enter__()
    arxiv.since = 2  # binarization gets its answer, quantization meets the storm
    write_queries(tmp_path / "queries.yaml", WITH_VENUE.split("  - name: cvpr2020")[0])
    env = {"PAPERTRACK_ARXIV_URL": arxiv.url}
    try:
        first = run_cli("harvest", env=env)
        assert first.exit_code == 75 and {q: r[-1] for q, r in rows(first).items()} == {
            "binarization": "ok",
            "quantization": "deferred",
        }
        arxiv.throttling = False
        before = len(arxiv.log)
        assert run_cli("harvest", "--via", "api", env=env).exit_code == 0
        queries = [r["args"]["search_query"] for r in arxiv.log.requests[before:]]
        assert "quantization" in queries[0] and "binary" in queries[1]
    finally:
        arxiv.__exit__(None, None, None)


@pytest.fixture
def day_one(run_cli, tmp_path):
    """Both arXiv stand-ins on the day after the backfill of `QUERIES` (the daily run is next)."""
    w = World(base_corpus())
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    yield w
    w.close()


def test_oai_pmh_flow_control_that_never_ends_defers_the_daily_run(run_cli, day_one):
    day_one.oai.faults["flow_control"] = lambda n: True
    result = run_cli("harvest", env=day_one.env())
    assert result.exit_code == 75, result.output
    assert len(day_one.oai.log) == 6  # one listing request and its retries: the second set is never asked
    assert {q: r[-1] for q, r in rows(result).items()} == {
        "binarization": "deferred",
        "quantization": "deferred",
        "pruning": "ok",
    }
    assert "arXiv is throttling this machine (HTTP 503 on 6 requests)" in result.stderr
    del day_one.oai.faults["flow_control"]
    assert run_cli("harvest", env=day_one.env()).exit_code == 0


def bot_checked_db(tmp_path):
    db = open_db(tmp_path / "db" / "papers.db")
    save_papers(db, [make_paper(i) for i in (1, 2)])
    db.conn.commit()
    return db


def snapshot(db):
    """What a harvest stores: papers, their links and tags, the queries' harvest state."""
    return (
        db.execute("select * from papers order by id").fetchall(),
        db.execute("select * from papers_queries order by 1, 2").fetchall(),
        db.execute("select * from papers_tags order by 1, 2").fetchall(),
        db.execute("select watermark, progress, covered from queries where watermark or progress or covered").fetchall(),
    )


@pytest.mark.parametrize("status", [200, 500])
def test_dblps_bot_check_is_one_line_exit_1_and_touches_nothing(run_cli, tmp_path, sparql, replay, status):
    dblp = sparql([], anubis=status)
    arxiv = replay([make_paper(5, title="Binary things")])
    db = bot_checked_db(tmp_path)
    write_queries(tmp_path / "queries.yaml", WITH_VENUE)
    before = snapshot(db)
    env = {"PAPERTRACK_ARXIV_URL": arxiv.url, "PAPERTRACK_DBLP_SPARQL_URL": dblp.url, "PAPERTRACK_DBLP_DELAY": "0"}
    result = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"cvpr2020: dblp answered with a bot-check page (Anubis, HTTP {status}) instead of data; nothing stored was "
        "touched. dblp shows scripts a bot check here: download dblp.xml.gz and dblp.dtd from https://dblp.org/xml/ "
        "in a browser and run: papertrack import-dblp dblp.xml.gz"
    )
    assert len(dblp.log) == 1  # never retried
    assert snapshot(db) == before  # not taken for an empty result
    assert run_cli("harvest", "--query", "binarization", env=env).exit_code == 0  # arXiv is unaffected


def test_arxivs_bot_check_is_not_an_unparseable_page(run_cli, tmp_path, scripted_server):
    server = scripted_server([(200, ANUBIS_PAGE, {"Content-Type": "text/html"})])
    write_queries(tmp_path / "queries.yaml", WITH_VENUE.split("  - name: cvpr2020")[0])
    db = bot_checked_db(tmp_path)
    before = snapshot(db)
    result = run_cli("harvest", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert result.exit_code == 1 and len(server.requests) == 1
    [line] = result.stderr.strip().splitlines()  # one line for both queries: arXiv is asked nothing more
    assert line.startswith("binarization, quantization: arXiv answered with a bot-check page (Anubis, HTTP 200)")
    assert snapshot(db) == before


def test_an_html_page_that_is_no_bot_check_is_said_as_such(run_cli, tmp_path, scripted_server, monkeypatch):
    """A proxy's or captive portal's page where arXiv's feed should be: retried, then named."""
    monkeypatch.setenv("PAPERTRACK_ARXIV_DELAY", "0")
    portal = b"<!DOCTYPE html><html><head><title>Sign in to the hotel Wi-Fi</title></head><body></body></html>"
    server = scripted_server([(200, portal, {"Content-Type": "text/html"})])
    write_queries(tmp_path / "queries.yaml", WITH_VENUE.split("  - name: cvpr2020")[0])
    db = bot_checked_db(tmp_path)
    before = snapshot(db)
    result = run_cli("harvest", "--query", "binarization", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "arXiv kept sending an HTML page where data was expected" in line
    assert snapshot(db) == before


def test_requests_name_papertrack_and_the_contact(run_cli, day_one):
    from papertrack import __version__

    assert run_cli("harvest", env={**day_one.env(), "PAPERTRACK_CONTACT": "ada@example.org"}).exit_code == 0
    assert {e["agent"] for e in day_one.oai.log} == {
        f"papertrack/{__version__} (+https://github.com/papertrack/papertrack; mailto:ada@example.org)"
    }
