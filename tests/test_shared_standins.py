"""papertrack against the stand-ins every developer shares (../shared/tools: fake_oai.py,
fake_arxiv.py, fake_dblp_sparql.py) over real arXiv records: skipped without ../shared."""

from __future__ import annotations

import json

import pytest

from papertrack.store.schema import open_db
from tests.helpers import requires_shared, start_fake_arxiv, start_tool, write_queries

pytestmark = pytest.mark.shared
CORPUS = "oai-cs-2015-2016.jsonl"
QUERIES = """\
queries:
  - name: compression
    source: arxiv
    query: '(abs:compression OR abs:pruning OR abs:quantization) AND (cat:cs.LG OR cat:cs.CV OR cat:stat.ML)'
    since: 2015-01-01
  - name: learning-theory
    source: arxiv
    query: 'ti:learning AND cat:stat.ML'
    since: 2016-01-01
"""


@pytest.fixture
def tools(tmp_path):
    started = []

    def start(tool, name, *args):
        proc, port, log = start_tool(tmp_path, tool, name, *args)
        started.append(proc)
        return port, log

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def linked(path):
    db = open_db(path)
    return {
        name: sorted(r[0] for r in db.execute("select papers_id from papers_queries where queries_id = ?", [qid]))
        for qid, name in db.execute("select id, name from queries")
    }


def test_oai_pmh_finds_what_arxivs_search_finds_and_survives_every_fault(run_cli, tmp_path, tools):
    corpus = str(requires_shared("data", "arxiv", CORPUS))
    write_queries(tmp_path / "queries.yaml", QUERIES)
    proc, api_url, _ = start_fake_arxiv(tmp_path, "api", CORPUS)
    try:
        api = run_cli("harvest", "--via", "api", "--db", "api.db", env={"PAPERTRACK_ARXIV_URL": api_url})
        assert api.exit_code == 0, api.output
    finally:
        proc.kill()
    port, log = tools("fake_oai.py", "oai", corpus, "--today", "2016-12-31")
    oai = run_cli(
        "harvest", "--via", "oai", "--db", "oai.db", env={"PAPERTRACK_ARXIV_OAI_URL": f"http://127.0.0.1:{port}/oai"}
    )
    assert oai.exit_code == 0, oai.output
    expected = linked(tmp_path / "api.db")
    assert linked(tmp_path / "oai.db") == expected and all(expected.values())
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["args"].get("set") for r in requests if "set" in r["args"]} == {"cs", "stat"}
    faulty, _ = tools(
        "fake_oai.py", "faulty", corpus, "--today", "2016-12-31",
        "--flow-control", "3", "--truncate-every", "4", "--expire-token-every", "2",
    )  # fmt: skip
    rough = run_cli(
        "harvest", "--via", "oai", "--db", "rough.db", env={"PAPERTRACK_ARXIV_OAI_URL": f"http://127.0.0.1:{faulty}/oai"}
    )
    assert rough.exit_code == 0, rough.output
    assert linked(tmp_path / "rough.db") == expected


def test_a_throttling_oai_endpoint_defers(run_cli, tmp_path, tools):
    corpus = str(requires_shared("data", "arxiv", CORPUS))
    write_queries(tmp_path / "queries.yaml", QUERIES)
    port, log = tools("fake_oai.py", "storm", corpus, "--today", "2016-12-31", "--429-every", "1")
    env = {"PAPERTRACK_ARXIV_OAI_URL": f"http://127.0.0.1:{port}/oai"}
    result = run_cli("harvest", "--via", "oai", env=env)
    assert result.exit_code == 75, result.output
    assert len(log.read_text().splitlines()) == 6
    assert "arXiv is throttling this machine (HTTP 429 on 6 requests)" in result.stderr
    flags = [line.split()[4] for line in run_cli("status").stdout.splitlines()[2:]]
    assert flags == ["DEFERRED", "DEFERRED"]


DBLP_RECORDS = [
    {"title": "Learning Efficient Binary Networks", "authors": ["Ada Lovelace", "Grace Hopper"], "venue": "CVPR",
     "year": 2020, "key": "conf/cvpr/LovelaceH20", "toc": "db/conf/cvpr/cvpr2020.bht", "doi": "10.1109/CVPR.2020.1",
     "pages": "1-10"},
    {"title": "Pruning Everything", "authors": ["Alan Turing"], "venue": "CVPR", "year": 2020,
     "key": "conf/cvpr/Turing20", "toc": "db/conf/cvpr/cvpr2020.bht"},
    {"title": "Elsewhere", "authors": ["No Body"], "venue": "ICCV", "year": 2019, "key": "conf/iccv/Body19",
     "toc": "db/conf/iccv/iccv2019.bht"},
]  # fmt: skip
VENUE = """\
queries:
  - name: cvpr2020
    source: dblp
    query: 'toc:db/conf/cvpr/cvpr2020.bht:'
"""


@pytest.mark.parametrize("anubis", [None, "200", "500"])
def test_dblp_through_the_shared_sparql_stand_in(run_cli, tmp_path, tools, replay, anubis):
    pytest.importorskip("rdflib")
    records = tmp_path / "dblp.json"
    records.write_text(json.dumps(DBLP_RECORDS))
    port, log = tools("fake_dblp_sparql.py", "dblp", str(records), *(["--anubis", anubis] if anubis else []))
    write_queries(tmp_path / "queries.yaml", VENUE)
    env = {
        "PAPERTRACK_DBLP_SPARQL_URL": f"http://127.0.0.1:{port}/sparql",
        "PAPERTRACK_ARXIV_URL": replay([]).url,
        "PAPERTRACK_DBLP_DELAY": "0",
    }
    result = run_cli("harvest", env=env)
    db = open_db(tmp_path / "db" / "papers.db")
    if anubis:
        assert result.exit_code == 1
        assert f"dblp answered with a bot-check page (Anubis, HTTP {anubis})" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and len(log.read_text().splitlines()) == 1
        assert db.execute("select count(*) from papers").fetchone()[0] == 0
        return
    assert result.exit_code == 0, result.output
    venues = dict(db.execute("select dblp_key, venue from papers"))
    assert venues == {"conf/cvpr/LovelaceH20": "CVPR 2020", "conf/cvpr/Turing20": "CVPR 2020"}
    authors = db.execute("select authors from papers where dblp_key = 'conf/cvpr/LovelaceH20'").fetchone()[0]
    assert json.loads(authors) == ["Ada Lovelace", "Grace Hopper"]
