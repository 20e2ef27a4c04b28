"""Three sources of tags: saved queries, the taxonomy, manual edits; manual decisions last."""

from __future__ import annotations

import pytest

from papertrack.config import parse_config
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import UsageError
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries
from papertrack.store.schema import transaction
from papertrack.store.tags import paper_tags, retag, tag, untag
from tests.helpers import make_paper

QUERIES = """\
queries:
  - name: binarization
    source: arxiv
    query: 'abs:"binary neural network"'
    tags: [binarization]
taxonomy:
  quantization:
    include: ['quantiz\\w*\\W+(?:\\w+\\W+){0,3}?(?:neural|networks?)']
  binarization:
    include: ['binary neural networks?']
    exclude: ['decision trees?']
"""
CONFIG = parse_config(QUERIES)


def save(db, papers, **kw):
    with transaction(db):
        return save_papers(db, papers, **kw)


def links(db, pid):
    return {
        r["name"]: (r["origin"], r["evidence"])
        for r in db.query(
            "select t.name, pt.origin, pt.evidence from papers_tags pt join tags t on t.id = pt.tags_id "
            "where pt.papers_id = ?",
            [pid],
        )
    }


@pytest.fixture
def stocked(db):
    ids = sync_queries(db, CONFIG.queries)
    taxonomy = Taxonomy(CONFIG.taxonomy)
    save(
        db,
        [make_paper(1, abstract="We quantize binary neural networks to 1 bit.")],
        query_id=ids["binarization"],
        taxonomy=taxonomy,
    )
    save(db, [make_paper(2, title="Trees", abstract="Quantized decision trees.")], taxonomy=taxonomy)
    return db


def test_origins_and_evidence(stocked):
    assert links(stocked, "2001.00001") == {
        "binarization": ("query,taxonomy", "binary neural networks"),
        "quantization": ("taxonomy", "quantize binary neural"),
    }
    assert links(stocked, "2001.00002") == {}


def test_sqlite_utils_m2m_layout(stocked):
    assert stocked["papers_tags"].pks == ["papers_id", "tags_id"]
    fks = {(fk.column, fk.other_table) for fk in stocked["papers_tags"].foreign_keys}
    assert fks == {("papers_id", "papers"), ("tags_id", "tags")}


def test_manual_tag_and_untag(stocked):
    assert tag(stocked, "2001.00002", ["favourite"]) == ["favourite"]
    assert links(stocked, "2001.00002")["favourite"] == ("manual", None)
    assert tag(stocked, "arXiv:2001.00001v3", ["binarization"]) == ["binarization", "quantization"]
    assert links(stocked, "2001.00001")["binarization"][0] == "query,taxonomy,manual"
    assert untag(stocked, "2001.00001", ["binarization", "quantization"]) == []


def test_manual_untag_survives_retag_and_reharvest(stocked):
    untag(stocked, "2001.00001", ["quantization"])
    report = retag(stocked, CONFIG)
    assert report.papers == 2
    assert "quantization" not in links(stocked, "2001.00001")
    newer = make_paper(
        1, abstract="We quantize binary neural networks to 1 bit, now faster.", version=2, updated="2020-03-01T00:00:00Z"
    )
    save(stocked, [newer], taxonomy=Taxonomy(CONFIG.taxonomy))
    assert set(links(stocked, "2001.00001")) == {"binarization"}
    tag(stocked, "2001.00001", ["quantization"])  # the editor changes their mind
    assert links(stocked, "2001.00001")["quantization"] == ("manual", None)
    retag(stocked, CONFIG)
    assert links(stocked, "2001.00001")["quantization"] == ("taxonomy,manual", "quantize binary neural")


def test_retag_applies_a_changed_taxonomy(stocked):
    changed = parse_config(QUERIES.replace("'binary neural networks?'", "'1 bit'"))
    report = retag(stocked, changed)
    assert links(stocked, "2001.00001")["binarization"] == ("query,taxonomy", "1 bit")
    assert (report.added, report.removed) == (0, 0)  # same tags, new evidence
    no_taxonomy = parse_config(QUERIES.split("taxonomy:")[0])
    report = retag(stocked, no_taxonomy)
    assert links(stocked, "2001.00001") == {"binarization": ("query", None)}
    assert (report.added, report.removed, report.per_tag) == (0, 1, {"binarization": 1})


def test_unknown_paper_and_missing_tags_are_usage_errors(stocked):
    with pytest.raises(UsageError, match="no paper '9999.99999'"):
        tag(stocked, "9999.99999", ["x"])
    with pytest.raises(UsageError, match="at least one tag"):
        untag(stocked, "2001.00001", [" "])
    assert paper_tags(stocked, "2001.00001") == ["binarization", "quantization"]
