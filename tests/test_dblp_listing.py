"""A dblp listing that misbehaves, end to end through the CLI: an empty page in the middle,
a table of contents that grows between a failed run and its resumption, QLever refusing
the query. Nothing is lost for good, and what failed says so in one line."""

from __future__ import annotations

import json
import re

import pytest

from papertrack.store.schema import open_db
from tests.helpers import write_queries
from tests.sparql_standin import SparqlStandIn
from tests.sparql_standin import record as info

TOC_KEY = "db/conf/cvpr/cvpr2020.bht"
QUERIES = """\
queries:
  - name: binarization
    source: arxiv
    query: 'abs:"binary neural network" AND cat:cs.LG'
  - name: cvpr2020
    source: dblp
    query: 'toc:db/conf/cvpr/cvpr2020.bht:'
  - name: iccv2019
    source: dblp
    query: 'toc:db/conf/iccv/iccv2019.bht:'
"""
EMPTY = json.dumps({"head": {"vars": []}, "results": {"bindings": []}}).encode()
QLEVER_400 = json.dumps(
    {
        "exception": "Invalid SPARQL query: Token \"}\": mismatched input '}' expecting {<EOF>, 'VALUES'}",
        "query": "SELECT ...",
        "status": "ERROR",
    }
).encode()


def papers(n: int, prefix: str = "P", toc: str = TOC_KEY) -> list[dict]:
    return [
        info(f"conf/cvpr/{prefix}{i}", f"Efficient network {prefix}{i}", [f"Author {prefix}{i}"], toc=toc) for i in range(n)
    ]


@pytest.fixture
def world(replay, tmp_path):
    """dblp's SPARQL endpoint (pages of 2) and an arXiv that knows no preprint; `harvest` runs the CLI."""
    servers: list[SparqlStandIn] = []
    arxiv = replay([])
    write_queries(tmp_path / "queries.yaml", QUERIES)

    def start(records: list[dict], faults: dict | None = None) -> tuple[SparqlStandIn, dict[str, str]]:
        servers.append(SparqlStandIn(records, faults))
        env = {
            "PAPERTRACK_ARXIV_URL": arxiv.url,
            "PAPERTRACK_DBLP_SPARQL_URL": servers[-1].url,
            "PAPERTRACK_DBLP_DELAY": "0",
            "PAPERTRACK_DBLP_PAGE_SIZE": "2",
        }
        return servers[-1], env

    yield start
    for s in servers:
        s.close()


def offsets(server: SparqlStandIn) -> list[int]:
    return [int(m) for q in server.log for m in re.findall(r"OFFSET (\d+)", q)]


def dblp_rows(tmp_path) -> list[str]:
    db = open_db(tmp_path / "db" / "papers.db")
    return [r[0] for r in db.execute("select id from papers where id like 'dblp:%' order by id")]


def table(result) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}


def test_an_empty_page_in_the_middle_is_fetched_again(run_cli, world, tmp_path):
    server, env = world(papers(5), faults={2: (200, EMPTY, {})})
    result = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert result.exit_code == 0, result.output
    assert offsets(server) == [0, 2, 2, 4]
    assert len(dblp_rows(tmp_path)) == 5


def test_a_page_that_stays_empty_fails_the_query_and_the_next_run_reads_it_all(run_cli, world, tmp_path):
    server, env = world(papers(5), faults={n: (200, EMPTY, {}) for n in range(2, 6)})
    result = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert result.exit_code == 1, result.output
    assert table(result)["cvpr2020"][-1] == "failed"
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cvpr2020: dblp kept sending an empty page at offset 2 (http://127.0.0.1:")
    assert offsets(server) == [0, 2, 2, 2, 2]  # the page and its three retries
    db = open_db(tmp_path / "db" / "papers.db")
    assert db.execute("select watermark from queries where name = 'cvpr2020'").fetchone()[0] is None  # not complete
    flags = {line.split()[0]: line.split()[4] for line in run_cli("status").stdout.splitlines()[2:]}
    assert flags["cvpr2020"] == "FAILED"
    again = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert again.exit_code == 0, again.output
    assert offsets(server)[5:] == [0, 2, 4]  # from the start: what the empty page stood for is unknown
    assert len(dblp_rows(tmp_path)) == 5


def test_a_listing_resumed_after_the_toc_grew_starts_again_and_loses_nothing(run_cli, world, tmp_path):
    server, env = world(papers(5), faults={2: (400, QLEVER_400, {})})
    first = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert first.exit_code == 1 and dblp_rows(tmp_path) == ["dblp:conf/cvpr/P0", "dblp:conf/cvpr/P1"]
    # dblp adds two papers whose keys sort first: ORDER BY ?publ moves every paper two places on
    server.set_records(papers(2, prefix="A") + papers(5))
    second = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert second.exit_code == 0, second.output
    assert offsets(server)[2:] == [2, 0, 2, 4, 6]  # the resumed page counts 7, not 5: start over
    assert len(dblp_rows(tmp_path)) == 7
    third = run_cli("harvest", "--query", "cvpr2020", env=env)
    assert table(third)["cvpr2020"][:3] == ["1", "0", "0"]  # complete: one request, nothing new


def test_qlever_refusing_a_query_fails_it_in_one_line_and_the_others_run(run_cli, world, tmp_path):
    iccv = papers(1, prefix="I", toc="db/conf/iccv/iccv2019.bht")
    server, env = world(papers(3) + iccv, faults={1: (400, QLEVER_400, {})})
    result = run_cli("harvest", "--via", "api", env=env)
    assert result.exit_code == 1, result.output
    assert {q: r[-1] for q, r in table(result).items()} == {"binarization": "ok", "cvpr2020": "failed", "iccv2019": "ok"}
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "cvpr2020: dblp's SPARQL endpoint rejected the query: Invalid SPARQL query: "
        "Token \"}\": mismatched input '}' expecting {<EOF>, 'VALUES'}"
    )
    assert len(server.log) == 2  # the refused page is not retried; iccv2019 takes one page
    assert dblp_rows(tmp_path) == ["dblp:conf/cvpr/I0"]
    status = {line.split()[0]: line for line in run_cli("status").stdout.splitlines()[2:]}
    assert status["cvpr2020"].split()[3:6] == ["never", "FAILED", "dblp's"]
    assert "dblp's SPARQL endpoint rejected the query" in status["cvpr2020"]
    assert status["iccv2019"].split()[4] == "ok"
