"""dblp queries end to end: SPARQL stand-in + arXiv stand-in on 127.0.0.1 -> linking -> SQLite.

Covers linking by title (and refusing same-words-different-paper), the batched arXiv
look-up, dblp: rows and their later merge into the arXiv paper, incremental re-runs,
resuming a failed run, failure isolation and the CLI.
"""

from __future__ import annotations

import json
import re

import pytest

from papertrack.config import parse_config
from papertrack.ingest.harvest import harvest
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.dblp_sparql import DblpSparqlClient
from papertrack.store.papers import save_papers
from papertrack.store.tags import refresh_tags
from tests.helpers import make_paper, write_queries
from tests.sparql_standin import SparqlStandIn
from tests.sparql_standin import record as info

TOC = "toc:db/conf/cvpr/cvpr2020.bht:"
TOC_KEY = "db/conf/cvpr/cvpr2020.bht"
QUERIES = f"""\
queries:
  - name: binarization
    source: arxiv
    query: 'abs:"binary neural network" AND (cat:cs.LG OR cat:cs.CV)'
    tags: [binarization]
  - name: cvpr2020-efficient
    source: dblp
    query: '{TOC}'
    title_filter: 'quantiz|binar|prun|distill|compress|architecture search|efficient|lightweight'
    tags: [cvpr2020]
"""
CONFIG = parse_config(QUERIES)
ABSTRACT = "We train a binary neural network with 1-bit weights."


def preprint(n: int, title: str, authors: list[str], **kw):
    return make_paper(n, id=f"2003.{n:05d}", title=title, authors=authors, abstract=ABSTRACT, **kw)


@pytest.fixture
def dblp():
    servers = []

    def start(hits, faults=None) -> SparqlStandIn:
        servers.append(SparqlStandIn(listed(hits), faults))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def listed(hits):
    """The records, listed on the CVPR 2020 table of contents (the query's toc)."""
    return [{**h, "toc": h["toc"] or TOC_KEY} for h in hits]


def offsets(server):
    """The OFFSET of each SPARQL request the stand-in answered."""
    return [int(m) for q in server.log for m in re.findall(r"OFFSET (\d+)", q)]


def clients(arxiv_server, dblp_server, **dblp):
    return {
        "arxiv-api": ArxivClient(arxiv_server.url, delay=0),
        "dblp-sparql": DblpSparqlClient(dblp_server.url, delay=0, **dblp),
    }


def run(db, dblp_server, arxiv_server, names=("cvpr2020-efficient",), page_size=2000, **kw):
    # arXiv queries run through the query API here (the stand-in for arXiv is the query API's)
    return harvest(db, CONFIG, names, via="api", clients=clients(arxiv_server, dblp_server, page_size=page_size), **kw)


def tags(db, pid):
    return sorted(
        r[0]
        for r in db.execute(
            "select t.name from papers_tags pt join tags t on t.id = pt.tags_id where pt.papers_id = ?", [pid]
        )
    )


def arxiv_lookups(server):
    return [r["args"]["search_query"] for r in server.log.requests if 'ti:"' in r["args"].get("search_query", "")]


def test_a_match_by_title_gets_venue_year_doi_key_and_the_query_tags(db, dblp, replay):
    paper = preprint(1, "Learning Efficient Binary Networks", ["Song Han", "Ada Lovelace"], comment="Accepted by ICCV 2019")
    arxiv = replay([paper])
    run(db, dblp([]), arxiv, names=("binarization",))
    assert db["papers"].get(paper.id)["venue"] == "ICCV 2019"  # from the arXiv comment
    server = dblp(
        [
            info(
                "conf/cvpr/HanL20",
                "Learning efficient binary networks",
                ["Song Han 0003", "Ada Lovelace"],
                doi="10.1109/CVPR42600.2020.00123",
                pages="1200-1209",
            )
        ]
    )
    [report] = run(db, server, arxiv)
    assert (report.status, report.new, report.updated, report.total) == ("ok", 0, 1, 1)
    row = db["papers"].get(paper.id)
    assert (row["venue"], row["venue_source"], row["venue_type"], row["year"]) == ("CVPR 2020", "dblp", "conference", 2020)
    assert (row["doi"], row["dblp_key"], row["pages"]) == ("10.1109/cvpr42600.2020.00123", "conf/cvpr/HanL20", "1200-1209")
    assert tags(db, paper.id) == ["binarization", "cvpr2020"]
    assert db["papers"].count == 1 and not arxiv_lookups(arxiv)
    # arXiv harvests again (a new version): the DBLP venue and DOI stay
    arxiv.set_papers(
        [preprint(1, paper.title, paper.authors, comment="Accepted by ICCV 2019", version=2, updated="2020-07-01T00:00:00Z")]
    )
    [again] = run(db, dblp([]), arxiv, names=("binarization",))
    assert (again.new, again.updated) == (0, 1)
    row = db["papers"].get(paper.id)
    assert (row["venue"], row["venue_source"], row["doi"], row["version"]) == (
        "CVPR 2020",
        "dblp",
        "10.1109/cvpr42600.2020.00123",
        2,
    )
    [quiet] = run(db, dblp([]), arxiv, names=("binarization",))
    assert (quiet.new, quiet.updated) == (0, 0)  # a kept DOI is no change


def test_same_words_different_paper_does_not_match(db, dblp, replay):
    binary = preprint(1, "Pruning Binary Neural Networks for Efficient Inference", ["Ada Lovelace"])
    arxiv = replay([binary])
    run(db, dblp([]), arxiv, names=("binarization",))
    server = dblp(
        [
            info(
                "conf/cvpr/Lovelace20", "Pruning Ternary Neural Networks for Efficient Inference", ["Ada Lovelace"]
            ),  # one word apart
            info(
                "conf/cvpr/Hopper20", "Pruning Binary Neural Networks for Efficient Inference", ["Grace Hopper"]
            ),  # same title, other people
        ]
    )
    [report] = run(db, server, arxiv)
    assert report.new == 2 and report.updated == 0
    assert db["papers"].get(binary.id)["venue"] is None and db["papers"].get(binary.id)["dblp_key"] is None
    assert {r["id"] for r in db.query("select id from papers where id like 'dblp:%'")} == {
        "dblp:conf/cvpr/Lovelace20",
        "dblp:conf/cvpr/Hopper20",
    }
    [lookup] = arxiv_lookups(arxiv)  # both titles in one batched request (dblp's order); arXiv's answer was not confirmed
    assert (
        'ti:"pruning binary neural networks for efficient inference" OR ti:"pruning ternary neural networks for efficient inference"'
        == lookup
    )


def test_an_unmatched_record_finds_its_preprint_on_arxiv(db, dblp, replay):
    pre = preprint(7, "XNOR Pruning: Efficient Binarized Networks", ["Zoë Çelik", "José García"], comment="CVPR 2020 oral")
    arxiv = replay([pre, preprint(8, "Unrelated binary work", ["Someone Else"])])
    server = dblp(
        [
            info("conf/cvpr/CelikG20", "XNOR pruning: efficient binarized networks", ["Zoe Celik", "Jose Garcia"]),
            info("conf/cvpr/Nobody20", "Compressing Nothing At All", ["No Body"]),
        ]
    )
    [report] = run(db, server, arxiv)
    assert report.new == 2 and report.status == "ok"
    row = db["papers"].get(pre.id)
    assert (row["venue"], row["venue_source"], row["dblp_key"]) == ("CVPR 2020", "dblp", "conf/cvpr/CelikG20")
    assert tags(db, pre.id) == ["cvpr2020"]
    assert db.execute("select count(*) from papers where id = 'dblp:conf/cvpr/CelikG20'").fetchone()[0] == 0
    assert len(arxiv_lookups(arxiv)) == 1  # two titles, one request
    assert report.requests == 2  # one DBLP page + one arXiv look-up


def test_no_preprint_makes_a_dblp_row_with_dblp_metadata(db, dblp, replay):
    server = dblp(
        [
            info(
                "conf/cvpr/Solo20",
                "Distilling a Lightweight Detector",
                ["Ada Lovelace 0002"],
                doi="10.1109/CVPR.2020.42",
                ee=["https://doi.org/10.1109/CVPR.2020.42", "https://example.org/pdf"],
            )
        ]
    )
    run(db, server, replay([]))
    row = db["papers"].get("dblp:conf/cvpr/Solo20")
    assert row["title"] == "Distilling a Lightweight Detector" and json.loads(row["authors"]) == ["Ada Lovelace"]
    assert (row["venue"], row["venue_type"], row["year"], row["venue_source"]) == ("CVPR 2020", "conference", 2020, "dblp")
    assert (row["doi"], row["url"], row["dblp_key"]) == (
        "10.1109/cvpr.2020.42",
        "https://doi.org/10.1109/CVPR.2020.42",
        "conf/cvpr/Solo20",
    )
    assert tags(db, row["id"]) == ["cvpr2020"]
    assert db.execute("select count(*) from papers_fts where papers_fts match 'lightweight'").fetchone()[0] == 1


def test_a_later_arxiv_harvest_merges_the_dblp_row_keeping_tags_notes_picks(db, dblp, replay):
    arxiv = replay([])
    run(
        db,
        dblp([info("conf/cvpr/LovelaceH20", "Binary Neural Networks Done Right", ["Ada Lovelace", "Grace Hopper"])]),
        arxiv,
    )
    row_id = "dblp:conf/cvpr/LovelaceH20"
    # the editor works on the dblp: row before the preprint is known
    db.execute("insert into tag_edits (papers_id, tag, action, at) values (?, 'must-read', 'add', '2020-06-01')", [row_id])
    db.execute("insert into tag_edits (papers_id, tag, action, at) values (?, 'cvpr2020', 'remove', '2020-06-01')", [row_id])
    db.execute("insert into notes (papers_id, headline, summary) values (?, '二值网络', 'Editor summary.')", [row_id])
    db.execute("insert into picks (papers_id, issue, picked) values (?, '2020-06-15', '2020-06-10')", [row_id])
    db.execute("update papers set citation_key = 'lovelace2020binary' where id = ?", [row_id])
    refresh_tags(db, [row_id])
    db.conn.commit()
    assert tags(db, row_id) == ["must-read"]
    pre = preprint(3, "Binary neural networks done right", ["A. Lovelace", "G. Hopper"], comment="Accepted at ICLR 2021")
    arxiv.set_papers([pre])
    [report] = run(db, dblp([]), arxiv, names=("binarization",))
    assert report.new == 1
    assert db.execute("select count(*) from papers where id like 'dblp:%'").fetchone()[0] == 0
    row = db["papers"].get(pre.id)
    assert (row["venue"], row["venue_source"], row["dblp_key"], row["year"]) == (
        "CVPR 2020",
        "dblp",
        "conf/cvpr/LovelaceH20",
        2020,
    )
    assert (row["citation_key"], row["summary"]) == ("lovelace2020binary", "Editor summary.")
    assert tags(db, pre.id) == ["binarization", "must-read"]  # the manual removal of cvpr2020 survives too
    assert db["notes"].get(pre.id)["headline"] == "二值网络"
    assert [r[0] for r in db.execute("select papers_id from picks")] == [pre.id]
    queries = {
        r[0]
        for r in db.execute(
            "select q.name from papers_queries pq join queries q on q.id = pq.queries_id where pq.papers_id = ?", [pre.id]
        )
    }
    assert queries == {"binarization", "cvpr2020-efficient"}
    assert db.execute("select count(*) from papers_fts where papers_fts match 'done'").fetchone()[0] == 1
    # the DBLP query again: the record is now linked to the arXiv paper, nothing duplicated
    [again] = run(
        db,
        dblp([info("conf/cvpr/LovelaceH20", "Binary Neural Networks Done Right", ["Ada Lovelace", "Grace Hopper"])]),
        arxiv,
        full=True,
    )
    assert (again.new, again.updated) == (0, 0) and db["papers"].count == 1


def test_a_rerun_with_nothing_new_costs_one_request(db, dblp, replay):
    hits = [info(f"conf/cvpr/P{i}", f"Efficient network number {i}", [f"Author {i}"]) for i in range(5)]
    server, arxiv = dblp(hits), replay([])
    [first] = run(db, server, arxiv, page_size=2)
    assert (first.new, first.requests, len(server.log)) == (5, 6, 3)  # 3 DBLP pages + a batched look-up each
    [second] = run(db, server, arxiv, page_size=2)
    assert (second.new, second.updated, second.requests, len(server.log)) == (0, 0, 1, 4)
    mark, progress = db.execute("select watermark, progress from queries where name = 'cvpr2020-efficient'").fetchone()
    assert json.loads(mark)["hits"] == 5 and progress is None
    server.set_records(listed([*hits, info("conf/cvpr/P9", "Efficient network number 9", ["Author 9"])]))
    before = len(arxiv.log)
    [third] = run(db, server, arxiv, page_size=2)
    assert (third.new, third.updated, len(server.log)) == (1, 0, 4 + 3)  # the count changed: every page again
    assert len(arxiv.log) - before == 1 and "number 9" in arxiv_lookups(arxiv)[-1]  # only the new record looked up


def test_a_failed_run_resumes_at_its_page_and_isolates_the_failure(db, dblp, replay):
    hits = [info(f"conf/cvpr/P{i}", f"Pruning method {i}", [f"Author {i}"]) for i in range(5)]
    server = dblp(hits, faults={2: (500, b"<html>oops</html>", {}), 3: (500, b"<html>oops</html>", {})})
    arxiv = replay([make_paper(1)])
    config_names = ("binarization", "cvpr2020-efficient")
    reports = harvest(db, CONFIG, config_names, via="api", clients=clients(arxiv, server, page_size=2, retries=1))
    assert [r.status for r in reports] == ["ok", "failed"]
    assert "dblp answered HTTP 500" in reports[1].error and reports[1].new == 2
    progress = json.loads(db.execute("select progress from queries where name = 'cvpr2020-efficient'").fetchone()[0])
    assert progress["first"] == 2
    before = len(server.log)
    [report] = run(db, server, arxiv, page_size=2)
    assert report.status == "ok" and report.new == 3
    assert offsets(server)[before:] == [2, 4]
    assert db.execute("select count(*) from papers where id like 'dblp:%'").fetchone()[0] == 5
    assert [r[0] for r in db.execute("select status from harvest_runs where query = 'cvpr2020-efficient' order by id")] == [
        "failed",
        "ok",
    ]


def test_title_filter_since_and_corr_records(db, dblp, replay):
    known = preprint(4, "Quantized Binary Neural Networks", ["Ada Lovelace"])
    save_papers(db, [known])
    db.conn.commit()
    config = parse_config(QUERIES.replace("tags: [cvpr2020]", "tags: [cvpr2020]\n    since: 2019-06-01"))
    server = dblp(
        [
            info("conf/cvpr/Off20", "Graph Matching for Scene Understanding", ["Ada Lovelace"]),  # no keyword
            info("conf/cvpr/Old18", "Binarized Networks of 2018", ["Ada Lovelace"], year=2018),  # before since
            info(
                "journals/corr/abs-2003-00004",
                "Quantized Binary Neural Networks",
                ["Ada Lovelace"],
                venue="CoRR",
                type="Informal and Other Publications",
                volume="abs/2003.00004",
                ee="https://arxiv.org/abs/2003.00004",
            ),
        ]
    )
    [report] = harvest(db, config, ["cvpr2020-efficient"], clients=clients(replay([]), server))
    assert (report.new, report.updated, report.total) == (0, 0, 1)
    row = db["papers"].get(known.id)
    assert row["venue"] is None and row["dblp_key"] is None  # CoRR is the preprint itself: tagged, no venue
    assert tags(db, known.id) == ["cvpr2020"] and db["papers"].count == 1


def test_dblp_linked_paper_exports_as_inproceedings(db, dblp, replay):
    """A venue from DBLP makes an @inproceedings with its booktitle."""
    from papertrack.bibtex.export import export_ids

    run(db, dblp([info("conf/cvpr/Solo20", "Efficient Solo Networks", ["Ada Lovelace"])]), replay([]))
    row = db["papers"].get("dblp:conf/cvpr/Solo20")
    assert (row["venue"], row["venue_type"]) == ("CVPR 2020", "conference")
    text = export_ids(db, [row["id"]])
    assert text.lstrip().startswith("@inproceedings") and "CVPR" in text.split("booktitle", 1)[1].split("\n")[0]


# ------------------------------------------------------------------ CLI end to end


def test_cli_harvest_dblp_and_arxiv_then_status(run_cli, dblp, replay, tmp_path):
    arxiv = replay([preprint(1, "Efficient Binary Networks", ["Ada Lovelace"])])
    server = dblp(
        [
            info("conf/cvpr/Lovelace20", "Efficient binary networks", ["Ada Lovelace"]),
            info("conf/cvpr/Hopper20", "Lightweight Everything", ["Grace Hopper"]),
        ]
    )
    write_queries(tmp_path / "queries.yaml", QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": arxiv.url, "PAPERTRACK_DBLP_SPARQL_URL": server.url, "PAPERTRACK_DBLP_DELAY": "0"}
    result = run_cli("harvest", env=env)
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()[2:]]
    assert lines == [["binarization", "1", "1", "0", "1", "ok"], ["cvpr2020-efficient", "2", "1", "1", "2", "ok"]]
    again = run_cli("harvest", "--query", "cvpr2020-efficient", env=env)
    assert [line.split() for line in again.output.splitlines()[2:]] == [["cvpr2020-efficient", "1", "0", "0", "2", "ok"]]
    status = run_cli("status")
    assert "cvpr2020-efficient  dblp" in status.output and "FAILED" not in status.output
    down = dblp([], faults={n: (404, b"<html>Not Found</html>", {}) for n in range(1, 5)})
    broken = run_cli("harvest", "--via", "api", env={**env, "PAPERTRACK_DBLP_SPARQL_URL": down.url})
    assert broken.exit_code == 1 and "failed" in broken.output
    assert [line.split()[-1] for line in broken.output.splitlines()[2:3]] == ["ok"]  # arXiv still ran


def test_cli_bad_dblp_delay_is_one_line(run_cli, tmp_path):
    write_queries(tmp_path / "queries.yaml", QUERIES)
    result = run_cli("harvest", env={"PAPERTRACK_DBLP_DELAY": "soon"})
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "Error: Invalid value for '--dblp-delay' (env var: 'PAPERTRACK_DBLP_DELAY'): 'soon' is not a valid float range."
    )


def test_shipped_queries_have_venue_queries():
    from pathlib import Path

    from papertrack.config import load_config

    venue = [q for q in load_config(Path(__file__).resolve().parents[1] / "queries.yaml").queries if q.source == "dblp"]
    assert any(q.name == "cvpr2020-efficient" and q.query == TOC and q.title_filter for q in venue)


def test_a_changed_title_filter_reads_the_pages_again(db, dblp, replay):
    from dataclasses import replace

    server, arxiv = (
        dblp(
            [
                info("conf/cvpr/A20", "Efficient Everything", ["Ada Lovelace"]),
                info("conf/cvpr/B20", "Graph Matching", ["Grace Hopper"]),
            ]
        ),
        replay([]),
    )
    run(db, server, arxiv, page_size=1)
    assert db["papers"].count == 1
    wider = replace(CONFIG, queries=(replace(CONFIG.queries[1], title_filter="efficient|graph"),))
    [report] = harvest(db, wider, clients=clients(arxiv, server, page_size=1))
    assert report.new == 1 and db["papers"].count == 2  # the second page was read again


def test_links_by_the_arxiv_id_dblp_names_and_by_doi(db, dblp, replay):
    renamed = preprint(9, "An Early Title About Binary Codes", ["Ada Lovelace"])  # the venue retitled it
    with_doi = preprint(10, "Some arXiv Title", ["Grace Hopper"], doi="10.1109/CVPR42600.2020.00777")
    arxiv = replay([renamed, with_doi])
    run(db, dblp([]), arxiv, names=("binarization",))
    arxiv.set_papers([renamed, with_doi, preprint(11, "Efficient Hashing Explained", ["Alan Turing"])])
    server = dblp(
        [
            info(
                "conf/cvpr/Lovelace20",
                "Efficient Binary Hashing",
                ["Ada Lovelace"],
                ee=["https://doi.org/10.1109/CVPR.2020.1", "https://arxiv.org/abs/2003.00009v3"],
            ),
            info(
                "conf/cvpr/Hopper20",
                "A Completely Different Efficient Title",
                ["Grace Hopper"],
                doi="10.1109/CVPR42600.2020.00777",
            ),
            info("conf/cvpr/Turing20", "Lightweight Hashing", ["Alan Turing"], ee="https://arxiv.org/abs/2003.00011"),
        ]
    )
    [report] = run(db, server, arxiv)
    assert (report.new, report.updated) == (1, 2)
    assert db["papers"].get(renamed.id)["dblp_key"] == "conf/cvpr/Lovelace20"
    assert db["papers"].get(with_doi.id)["dblp_key"] == "conf/cvpr/Hopper20"
    fetched = db["papers"].get("2003.00011")  # not stored before: fetched by id, not by title
    assert (fetched["title"], fetched["venue"]) == ("Efficient Hashing Explained", "CVPR 2020")
    assert [r["args"]["id_list"] for r in arxiv.log.requests if r["args"].get("id_list")] == ["2003.00011"]
    assert not arxiv_lookups(arxiv)


def test_a_row_linked_later_by_doi_is_merged_with_its_tags(db, dblp, replay):
    record = info("conf/cvpr/Hopper20", "Compressing Compilers", ["Grace Hopper"], doi="10.1109/CVPR.2020.99")
    arxiv = replay([])
    run(db, dblp([record]), arxiv)
    db.execute(
        "insert into tag_edits (papers_id, tag, action, at) values ('dblp:conf/cvpr/Hopper20', 'must-read', 'add', 'x')"
    )
    refresh_tags(db, ["dblp:conf/cvpr/Hopper20"])
    # its preprint arrives under another title, so the arXiv harvest cannot tell it is the same paper
    save_papers(db, [preprint(12, "COBOL for Neural Networks", ["Grace Hopper"], doi="10.1109/CVPR.2020.99")])
    db.conn.commit()
    [report] = run(db, dblp([record]), arxiv, full=True)
    assert report.updated == 1
    assert db.execute("select count(*) from papers where id like 'dblp:%'").fetchone()[0] == 0
    assert db["papers"].get("2003.00012")["venue"] == "CVPR 2020"
    assert tags(db, "2003.00012") == ["cvpr2020", "must-read"]
