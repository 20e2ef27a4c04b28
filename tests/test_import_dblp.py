"""`papertrack import-dblp`: dblp's XML dump (gzipped, its DTD beside it) read for the
venue queries, linked like a harvest, end to end through the CLI."""

from __future__ import annotations

import gzip
import json

import pytest

from papertrack.sources.dblp_xml import read_dump
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db
from tests.dblp_dump import element, write_dump
from tests.helpers import make_paper, write_queries
from tests.sparql_standin import ANUBIS_PAGE

QUERIES = """\
queries:
  - name: binarization
    source: arxiv
    query: 'ti:binary AND cat:cs.LG'
  - name: cvpr2020-efficient
    source: dblp
    query: 'toc:db/conf/cvpr/cvpr2020.bht:'
    title_filter: 'binar|prun|efficient'
    tags: [cvpr2020]
  - name: iccv-pruning
    source: dblp
    query: 'venue:ICCV: year:2019: prun'
"""
RECORDS = [
    element("proceedings", "conf/cvpr/2020", "IEEE/CVF Conference on Computer Vision and Pattern Recognition.", ["Ed Itor"]),
    element(
        "inproceedings",
        "conf/cvpr/LovelaceH20",
        "Learning <i>Efficient</i> Binary Networks.",
        ["Ada Lovelace", "Grace Hopper"],
        ee=["https://doi.org/10.1109/CVPR42600.2020.00123"],
        pages="1200-1209",
    ),  # fmt: skip
    element(
        "inproceedings",
        "conf/cvpr/SchmidhuberM20",
        "Pr&uuml;ning Caf&eacute; Networks Efficiently.",
        ["J&uuml;rgen Schmidhuber", "Ren&eacute; Magritte 0002"],
    ),  # fmt: skip
    element("inproceedings", "conf/cvpr/Off20", "Graph Matching for Scenes.", ["Ada Lovelace"]),
    element(
        "inproceedings",
        "conf/iccv/PrunA19",
        "Pruning Filters.",
        ["Alan Turing"],
        venue="ICCV",
        year=2019,
        toc="db/conf/iccv/iccv2019",
    ),
    element(
        "inproceedings",
        "conf/iccv/Other19",
        "Detecting Things.",
        ["Alan Turing"],
        venue="ICCV",
        year=2019,
        toc="db/conf/iccv/iccv2019",
    ),
    element(
        "article",
        "journals/corr/abs-2003-00004",
        "Efficient Binary Preprints.",
        ["Ada Lovelace"],
        venue="CoRR",
        publtype="informal",
        volume="abs/2003.00004",
        ee=["https://arxiv.org/abs/2003.00004"],
        toc="db/journals/corr/corr2003",
    ),  # fmt: skip
    '<www key="homepages/00/1" mdate="2024-01-01"><author>Ada Lovelace</author><title>Home Page</title></www>\n',
]


def corrupt(dump, at):
    """A bigger dump whose compressed stream has 4 KB zeroed from byte `at`: past what the
    first look at the file decompresses, so the damage shows while records are read."""
    filler = [element("article", f"journals/x/F{i}", f"Filler {i} {i * 7919}", [f"Au {i}"], venue="X", toc=None)
              for i in range(3000)]  # fmt: skip
    write_dump(dump.parent, RECORDS + filler)
    data = bytearray(dump.read_bytes())
    data[at : at + 4096] = bytes(4096)
    dump.write_bytes(bytes(data))


def rows(result):
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:-1]}


@pytest.fixture
def work(tmp_path, run_cli):
    write_queries(tmp_path / "queries.yaml", QUERIES)
    db = open_db(tmp_path / "db" / "papers.db")
    preprint = make_paper(1, id="2001.00001", title="Learning Efficient Binary Networks", authors=["Ada Lovelace"])
    save_papers(db, [preprint])
    db.conn.commit()
    return db


def test_a_dump_with_entities_is_read_for_the_venue_queries(run_cli, tmp_path, work):
    dump = write_dump(tmp_path / "downloads", RECORDS)
    result = run_cli("import-dblp", str(dump), "--offline")
    assert result.exit_code == 0, result.output
    # the toc lists four records (the volume itself, one off-topic); the title filter keeps two
    assert rows(result) == {"cvpr2020-efficient": ["4", "1", "1", "2"], "iccv-pruning": ["1", "1", "0", "1"]}
    assert "7 dblp records read in" in result.stdout.splitlines()[-1]  # the person page is not a record
    linked = work["papers"].get("2001.00001")  # the stored preprint, by title and author
    assert (linked["venue"], linked["dblp_key"], linked["doi"], linked["pages"]) == (
        "CVPR 2020",
        "conf/cvpr/LovelaceH20",
        "10.1109/cvpr42600.2020.00123",
        "1200-1209",
    )
    row = work["papers"].get("dblp:conf/cvpr/SchmidhuberM20")  # entities from the DTD, dblp's homonym number dropped
    assert row["title"] == "Prüning Café Networks Efficiently" and json.loads(row["authors"]) == [
        "Jürgen Schmidhuber",
        "René Magritte",
    ]
    assert not work.execute(
        "select count(*) from papers where id in ('dblp:conf/cvpr/2020', 'dblp:conf/cvpr/Off20')"
    ).fetchone()[0]
    tags = {
        r[0]
        for r in work.execute(
            "select t.name from papers_tags pt join tags t on t.id = pt.tags_id where papers_id = '2001.00001'"
        )
    }
    assert "cvpr2020" in tags
    again = run_cli("import-dblp", str(dump), "--offline")  # a rerun stores nothing twice
    assert rows(again) == {"cvpr2020-efficient": ["4", "0", "0", "2"], "iccv-pruning": ["1", "0", "0", "1"]}
    assert work.execute("select count(*) from papers").fetchone()[0] == 3


def test_preprints_are_looked_up_on_arxiv_unless_offline(run_cli, tmp_path, work, replay):
    arxiv = replay(
        [make_paper(7, id="2003.00007", title="Pruning Cafe Networks Efficiently", authors=["Jurgen Schmidhuber"])]
    )
    dump = write_dump(tmp_path / "downloads", RECORDS)
    result = run_cli("import-dblp", str(dump), "--query", "cvpr2020-efficient", env={"PAPERTRACK_ARXIV_URL": arxiv.url})
    assert result.exit_code == 0, result.output
    assert work["papers"].get("2003.00007")["venue"] == "CVPR 2020"  # its arXiv preprint, found by title
    assert len(arxiv.log) >= 1 and not work.execute("select count(*) from papers where id like 'dblp:%'").fetchone()[0]


def test_the_dump_streams_records_with_their_toc_venue_and_year(tmp_path):
    dump = write_dump(tmp_path, RECORDS)
    records = [(r.toc, r.venue, r.year, r.title) for r in read_dump(dump)]  # read while the loop is on each
    assert [r[:3] for r in records][:2] == [
        ("db/conf/cvpr/cvpr2020.bht", "CVPR", 2020),
        ("db/conf/cvpr/cvpr2020.bht", "CVPR", 2020),
    ]
    infos = [r.info() for r in read_dump(dump)]  # while the loop is on each record
    assert infos[1]["authors"] == {"author": ["Ada Lovelace", "Grace Hopper"]}
    corr = infos[-1]
    assert corr["type"] == "Informal and Other Publications" and corr["ee"] == ["https://arxiv.org/abs/2003.00004"]
    assert records[1][3] == "Learning Efficient Binary Networks."  # markup inside a title is text


def test_an_unzipped_dump_reads_too(tmp_path):
    dump = write_dump(tmp_path, RECORDS)
    plain = tmp_path / "dblp.xml"
    plain.write_bytes(gzip.decompress(dump.read_bytes()))
    assert len(list(read_dump(plain))) == 7


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / "dblp.dtd").unlink(),
            "dblp.dtd not found: download it from https://dblp.org/xml/ beside dblp.xml.gz",
        ),
        (
            lambda d: (d / "dblp.xml.gz").write_bytes(gzip.compress(ANUBIS_PAGE)),
            "dblp.xml.gz is dblp's bot-check page (Anubis), not the dump: download dblp.xml.gz and dblp.dtd",
        ),
        (lambda d: (d / "dblp.xml.gz").write_bytes(b"{}"), "not dblp's XML dump"),
        (lambda d: (d / "dblp.xml.gz").write_bytes((d / "dblp.xml.gz").read_bytes()[:300]), "cannot read compressed data"),
        (lambda d: corrupt(d / "dblp.xml.gz", 2000), "cannot read compressed data"),  # zlib.error: no OSError
        (lambda d: (d / "dblp.dtd").write_text("<!ELEMENT dblp (\n"), "dblp.dtd:2: not a well-formed DTD"),
    ],
)
def test_a_bad_file_is_one_line_and_stores_nothing(run_cli, tmp_path, work, make, message):
    dump = write_dump(tmp_path / "downloads", RECORDS)
    make(tmp_path / "downloads")
    before = work.execute("select count(*) from papers").fetchone()[0]
    result = run_cli("import-dblp", str(dump), "--offline")
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and message in line
    assert work.execute("select count(*) from papers").fetchone()[0] == before


def test_no_dblp_query_is_said(run_cli, tmp_path):
    write_queries(tmp_path / "queries.yaml", QUERIES.split("  - name: cvpr2020")[0])
    dump = write_dump(tmp_path / "downloads", RECORDS)
    result = run_cli("import-dblp", str(dump))
    assert result.exit_code == 2 and "queries.yaml has no dblp query to run over the dump" in result.output
    result = run_cli("import-dblp", str(dump), "--query", "binarization")
    assert result.exit_code == 2
    assert result.output == "Error: 'binarization' is an arxiv query: the dump serves dblp queries only\n"
