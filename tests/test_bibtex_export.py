"""BibTeX export: entry types, names, titles, citation keys, selection, validity."""

from __future__ import annotations

import sqlite3

import bibtexparser
import pybtex.database
import pytest
import sqlite_utils
from hypothesis import given
from hypothesis import strategies as st

from papertrack.bibtex.export import export, export_ids, select_ids
from papertrack.config import parse_config
from papertrack.errors import UsageError
from papertrack.store.citekeys import base_key, set_key
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries
from papertrack.store.schema import open_db, transaction
from papertrack.text import latex
from papertrack.text.names import last_first
from tests.helpers import BASIC_QUERIES, make_paper


def parse(text: str) -> dict[str, dict]:
    """Entries by key, as bibtexparser reads them back (no failed blocks allowed)."""
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    return {e.key: {"type": e.entry_type, **{f.key: f.value for f in e.fields}} for e in library.entries}


def cars(**kw):
    defaults = dict(
        id="1909.04977",
        title="CARS: Continuous Evolution for Efficient Neural Architecture Search",
        authors=["Zhaohui Yang", "Yunhe Wang", "Xinghao Chen"],
        primary_category="cs.CV",
        published="2019-09-11T09:20:54Z",
        updated="2020-03-10T00:00:00Z",
    )
    return make_paper(0, **{**defaults, **kw})


def test_arxiv_only_paper_is_misc_like_arxivs_own_bibtex(db):
    save_papers(db, [cars()])
    [(key, e)] = parse(export_ids(db, ["1909.04977"])).items()
    assert key == "yang2019cars"
    assert e == {
        "type": "misc",
        "title": "{CARS}: Continuous Evolution for Efficient Neural Architecture Search",
        "author": "Yang, Zhaohui and Wang, Yunhe and Chen, Xinghao",
        "year": "2019",
        "eprint": "1909.04977",
        "archivePrefix": "arXiv",
        "primaryClass": "cs.CV",
        "url": "https://arxiv.org/abs/1909.04977",
    }


def test_entry_types_follow_the_venue_columns(db):
    save_papers(db, [cars(comment="Accepted by CVPR 2020", doi="10.1109/CVPR42600.2020.00190")])
    save_papers(
        db,
        [
            make_paper(
                2,
                title="Journal paper",
                venue="IEEE TPAMI",
                venue_type="journal",
                volume="44",
                pages="1-12",
                doi="10.1109/TPAMI.2021.1",
            )
        ],
        venue_source="dblp",
    )
    save_papers(
        db,
        [make_paper(3, title="Workshop paper", venue="ICML 2020 Workshop on Efficiency", venue_type="workshop")],
        venue_source="bibtex",
    )
    entries = parse(export_ids(db, ["1909.04977", "2001.00002", "2001.00003"]))
    conf = entries["yang2020cars"]  # the venue year is the paper's year, and in `year` only
    assert (conf["type"], conf["booktitle"], conf["year"]) == (
        "inproceedings",
        "Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)",
        "2020",
    )
    assert conf["doi"] == "10.1109/CVPR42600.2020.00190" and conf["eprint"] == "1909.04977"
    journal = entries["lovelace2020journal"]
    assert (journal["type"], journal["journal"], journal["volume"], journal["pages"]) == (
        "article",
        "IEEE TPAMI",
        "44",
        "1--12",
    )
    assert entries["lovelace2020workshop"]["type"] == "inproceedings"
    save_papers(
        db, [make_paper(4, title="Untyped venue", venue="Some Symposium", url="https://x.org/{a}")], venue_source="bibtex"
    )
    db.execute("update papers set venue_type = null where id = '2001.00004'")
    untyped = parse(export_ids(db, ["2001.00004"]))["lovelace2020untyped"]
    assert (untyped["type"], untyped["howpublished"]) == ("misc", "Some Symposium")


def test_paper_not_on_arxiv_has_no_arxiv_fields(db):
    save_papers(
        db,
        [
            make_paper(
                0,
                id="doi:10.5281/zenodo.1",
                title="spaCy",
                url="https://doi.org/10.5281/zenodo.1",
                doi="10.5281/zenodo.1",
                year=2020,
                published=None,
            )
        ],
        venue_source="bibtex",
    )
    [e] = parse(export_ids(db, ["doi:10.5281/zenodo.1"])).values()
    assert e["type"] == "misc" and "eprint" not in e and e["url"] == "https://doi.org/10.5281/zenodo.1"
    assert e["year"] == "2020"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Zhaohui Yang", "Yang, Zhaohui"),
        ("Laurens van der Maaten", "van der Maaten, Laurens"),
        ("Luc Van Gool", "Van Gool, Luc"),
        ("Fernando De la Torre", "De la Torre, Fernando"),
        ("Charles Louis de la Vallée Poussin", "de la Vallée Poussin, Charles Louis"),
        ("John Smith Jr.", "Smith, Jr., John"),
        ("Martin Luther King III", "King, III, Martin Luther"),
        ("Quoc V. Le", "Le, Quoc V."),
        ("Miguel Á. Carreira-Perpiñán", "Carreira-Perpiñán, Miguel Á."),
        ("Arm", "Arm"),
        ("van der Maaten, Laurens", "van der Maaten, Laurens"),
    ],
)
def test_names_last_first(name, expected):
    assert last_first(name) == expected


@pytest.mark.parametrize(
    "title, expected",
    [
        ("BERT-of-Theseus: Compressing BERT", "{BERT}-of-Theseus: Compressing {BERT}"),
        ("GhostNet: More Features from Cheap Operations", "{GhostNet}: More Features from Cheap Operations"),
        ("MobileNetV2 and CNNs for 3D GANs", "{MobileNetV2} and {CNNs} for {3D} {GANs}"),
        ("Sparse $\\ell_1$ and $O(N^2)$ training", "Sparse {$\\ell_1$} and {$O(N^2)$} training"),
        ("R&D: 50% of #1 at $2, a_b {c}", "R\\&D: 50\\% of \\#1 at \\$2, a\\_b c"),
        ("Costs \\$2 and \\$3", "Costs \\$2 and \\$3"),
        ("Schr\\\"odinger's Caf\\'e", "Schrödinger's Café"),
        ("Über-Netze für Ärzte", "Über-Netze für Ärzte"),
    ],
)
def test_titles_protect_capitals_and_escape_specials(title, expected):
    assert latex.title(title) == expected


@given(
    st.lists(
        st.sampled_from(list("abcXYZéü09 &%#_-:!") + ["\\$", "GhostNet", " $\\ell_1$ ", " $O(N)$ "]), min_size=1, max_size=30
    )
)
def test_titles_survive_bibtex_and_decoding(tokens):
    """Whatever a stored title contains, the value parses, and reading it back gives the title."""
    title = " ".join("".join(tokens).split()) or "x"
    value = latex.title(title)
    [entry] = bibtexparser.parse_string("@misc{k, title = {" + value + "}}").entries
    assert latex.decode(entry["title"]) == title
    pybtex.database.parse_string("@misc{k, title = {" + value + "}}", "bibtex")


@given(st.text(alphabet="aZé {}$\\%&#_^~'\"", max_size=30))
def test_any_title_gives_a_value_both_parsers_read(title):
    """Broken TeX in a stored title (unbalanced braces or dollars) must not break the file."""
    text = "@misc{k, title = {" + latex.title(title) + "}, note = {after}}\n"
    [entry] = bibtexparser.parse_string(text).entries
    assert entry["note"] == "after"
    assert pybtex.database.parse_string(text, "bibtex").entries["k"].fields["note"] == "after"


@pytest.mark.parametrize(
    "authors, year, title, key",
    [
        (["Zhaohui Yang"], 2020, "CARS: Continuous Evolution", "yang2020cars"),
        (["Laurens van der Maaten"], 2008, "Visualizing Data using t-SNE", "vandermaaten2008visualizing"),
        (["Felix Neumärker"], 2018, "On the Memory-Efficiency of SpiNNaker", "neumarker2018memory"),
        (["Ashish Vaswani"], 2017, "Attention Is All You Need", "vaswani2017attention"),
        (["Dan Alistarh"], 2017, "QSGD: Communication-Efficient SGD", "alistarh2017qsgd"),
        (["Lee"], 2019, "A 1-bit $\\ell_1$ Method", "lee2019bit"),
        ([], None, "Towards the Unknown", "anonunknown"),
        (["others"], 2001, "", "anon2001"),
    ],
)
def test_base_keys(authors, year, title, key):
    assert base_key(authors, year, title) == key


def test_keys_are_stable_unique_and_overridable(tmp_path):
    db = open_db(tmp_path / "k.db")
    with transaction(db):
        save_papers(db, [cars(), cars(id="1909.04978", title="CARS Again", published="2019-12-01T00:00:00Z")])
    first = parse(export(db)[0])
    assert set(first) == {"yang2019cars", "yang2019carsa"}
    assert db["papers"].get("1909.04977")["citation_key"] == "yang2019cars"  # older paper keeps the bare key
    with transaction(db):  # a third paper with the same base key, harvested later
        save_papers(db, [cars(id="1909.04979", title="CARS: a third", published="2019-01-01T00:00:00Z")])
    assert set(parse(export(db)[0])) == {"yang2019cars", "yang2019carsa", "yang2019carsb"}
    with transaction(db):
        assert set_key(db, "1909.04977", "Yang2019CARS") == "yang2019cars"
    assert "Yang2019CARS" in parse(export(db)[0])
    with pytest.raises(UsageError, match="already used by paper 1909.04977"):
        set_key(db, "1909.04978", "yang2019cars")  # BibTeX compares keys case-insensitively
    with pytest.raises(UsageError, match="invalid citation key"):
        set_key(db, "1909.04978", "has space")
    with pytest.raises(UsageError, match="no paper"):
        set_key(db, "9999.99999", "free")


def test_keys_assigned_lazily_for_old_databases_and_readonly_connections(tmp_path):
    path = tmp_path / "old.db"
    db = open_db(path)
    with transaction(db):
        save_papers(db, [cars(), make_paper(2)])
        db.execute("update papers set citation_key = null")  # as saved before keys existed
    readonly = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    assert set(parse(export_ids(readonly, ["1909.04977", "2001.00002"]))) == {"yang2019cars", "lovelace2020paper"}
    assert db["papers"].get("1909.04977")["citation_key"] is None  # nothing written through read-only
    export_ids(db, ["1909.04977", "2001.00002"])
    assert db["papers"].get("1909.04977")["citation_key"] == "yang2019cars"  # stored on a writable one


def test_selection_by_tag_query_id_and_dates(db):
    config = parse_config(BASIC_QUERIES)
    ids = sync_queries(db, config.queries)
    papers = [make_paper(n, published=f"2020-0{n}-15T12:00:00Z") for n in range(1, 6)]
    save_papers(db, papers[:3], query_id=ids["binarization"])
    save_papers(db, papers[3:], query_id=ids["quantization"])
    assert select_ids(db) == [p.id for p in papers]
    assert select_ids(db, tags=["low-bit"]) == ["2001.00004", "2001.00005"]
    assert select_ids(db, queries=["binarization"], date_from="2020-02-15", date_to="2020-03-15") == [
        "2001.00002",
        "2001.00003",
    ]
    assert select_ids(db, ids=["2001.00005", "2001.00001"], tags=["binarization"]) == ["2001.00001"]
    assert select_ids(db, date_to="2020-01-15") == ["2001.00001"]  # the end day is included
    for kw, culprit in (
        (
            dict(date_from="2020-03-01", date_to="2020-02-01"),
            r"the date window ends \(2020-02-01\) before it starts \(2020-03-01\)",
        ),
        (dict(tags=["nope"]), "unknown tag 'nope'"),
        (dict(queries=["nope"]), "unknown query 'nope'"),
        (dict(ids=["1234.56789"]), "no paper '1234.56789' in the database"),
    ):
        with pytest.raises(UsageError, match=culprit):
            select_ids(db, **kw)


def test_export_is_valid_for_bibtexparser_and_pybtex_with_unique_keys(db):
    tricky = [
        cars(),
        cars(id="1909.04978", title="CARS: {Braces} & 100% $\\mathcal{O}(1)$ #hash_tag", comment="CVPR 2020"),
        make_paper(3, title="Schrödinger's cat in Ångström units", authors=["Zoë Ünal", "Ştefan Hăsan"]),
        make_paper(4, title="No authors at all", authors=[]),
        make_paper(5, id="hep-th/9901001", title="Old-style id"),
        make_paper(6, title="Deep \\emph{learning} with \\textbf{bold} moves", authors=["Song Han"]),
    ]
    save_papers(db, tricky)
    text, count = export(db)
    assert count == len(tricky)
    keys = list(parse(text))
    assert len(keys) == len(set(k.lower() for k in keys)) == count
    pybtex_entries = pybtex.database.parse_string(text, "bibtex").entries
    assert set(pybtex_entries) == set(keys)
    assert "Schrödinger's cat in Ångström units" in text  # UTF-8 as such, no TeX accents
    assert parse(text)["han2020deep"]["title"] == "Deep learning with bold moves"


def test_cli_bibtex_writes_stdout_or_file_and_key_command(run_cli, tmp_path):
    db = open_db(tmp_path / "db" / "papers.db")
    with transaction(db):
        save_papers(db, [cars(), make_paper(2)])
    result = run_cli("bibtex", "--id", "1909.04977")
    assert result.exit_code == 0 and result.output.startswith("@misc{yang2019cars,")
    result = run_cli("key", "1909.04977", "cars2020")
    assert result.exit_code == 0 and "yang2019cars -> cars2020" in result.output
    result = run_cli("bibtex", "-o", "out.bib", "--from", "2019-01-01", "--to", "2019-12-31")
    assert result.exit_code == 0 and "1 entry written to out.bib" in result.stderr
    assert list(parse((tmp_path / "out.bib").read_text(encoding="utf-8"))) == ["cars2020"]
    result = run_cli("bibtex", "--tag", "nope")
    assert result.exit_code == 2 and result.stderr.strip() == "Error: unknown tag 'nope'"
    result = run_cli("key", "2001.00002", "cars2020")
    assert result.exit_code == 2 and "already used by paper 1909.04977" in result.stderr
    result = run_cli("bibtex", "--db", "missing.db")
    assert result.exit_code == 2 and "no database at missing.db" in result.stderr
    assert not (tmp_path / "missing.db").exists()


# ---------------------------------------------------------------- through BibTeX itself


def cited_corpus() -> list:
    return [
        cars(comment="Accepted by CVPR 2020", doi="10.1109/CVPR42600.2020.00190"),
        make_paper(
            2,
            title="Sparse $\\ell_1$ Training of BERT at 50% Cost & More",
            authors=["Laurens van der Maaten", "John Smith Jr.", "Zoë Ünal"],
            comment="Workshop contribution at ICLR 2015",
        ),
        make_paper(3, title="Binary Networks, Again", authors=["Ada Lovelace"], journal_ref="TPAMI 44(3):1-12, 2021"),
        make_paper(4, title="A Preprint Only", authors=["Miguel Á. Carreira-Perpiñán"]),
        make_paper(5, title="Pruning for Pattern Recognition", journal_ref="Pattern Recognition 105 (2020) 107281"),
    ]


def test_export_reads_as_a_citation_through_bibtex_and_plain_bst(tmp_path, run_cli):
    """The real `bibtex` program and plain.bst (Debian texlive-binaries, texlive-base; .ci/run
    installs them): no warning, and the venue as the venue writes it, the year once."""
    import shutil
    import subprocess

    if not shutil.which("bibtex"):
        pytest.skip("bibtex is not installed (Debian: texlive-binaries texlive-base)")
    db = open_db(tmp_path / "p.db")
    with transaction(db):
        save_papers(db, cited_corpus())
    db.close()
    assert run_cli("bibtex", "--db", "p.db", "-o", "refs.bib").exit_code == 0
    keys = list(parse((tmp_path / "refs.bib").read_text(encoding="utf-8")))
    (tmp_path / "paper.aux").write_text(
        "".join(f"\\citation{{{k}}}\n" for k in keys) + "\\bibstyle{plain}\n\\bibdata{refs}\n", encoding="utf-8"
    )
    done = subprocess.run(["bibtex", "paper"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    assert "Warning--" not in done.stdout, done.stdout
    bbl = " ".join((tmp_path / "paper.bbl").read_text(encoding="utf-8").split())
    assert len(keys) == 5 and bbl.count("\\bibitem") == 5
    assert "In {\\em Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)}, 2020." in bbl
    assert "In {\\em International Conference on Learning Representations (ICLR) Workshops}, 2015." in bbl
    assert "{\\em IEEE Transactions on Pattern Analysis and Machine Intelligence}, 44:1--12, 2021." in bbl
    assert "{\\em Pattern Recognition}, 105:107281, 2020." in bbl
    assert "CVPR 2020" not in bbl and "2020, 2020" not in bbl
