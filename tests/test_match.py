"""`match`: arXiv queries as FTS5 + SQL, checked against the stand-in's evaluator."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrack.config import load_config
from papertrack.ingest.harvest import harvest
from papertrack.ingest.snapshot import import_snapshot
from papertrack.models import Paper
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_query import evaluate, parse, record_of, stem
from papertrack.store.papers import save_papers
from papertrack.store.schema import memory_db, open_db
from papertrack.store.search import match_ids, variants
from tests.helpers import ROOT, api, make_paper, write_queries


def reference(papers: list[Paper], query: str) -> set[str]:
    tree = parse(query)
    return {p.id for p in papers if evaluate(tree, record_of(p))}


def test_variants_are_exactly_the_tokens_that_stem_alike():
    assert variants("networks") == ["network", "networkes", "networks"]
    assert variants("latency") == ["latencies", "latency", "latencyes", "latencys"]
    assert variants("architectures") == ["architectur", "architectures", "architecturs"]  # not "architecture"
    assert variants("cnn") == ["cnn"]  # "cnns" is too short to lose its s
    for word in ("process", "processes", "series", "cases", "flops", "bias", "lies"):
        assert {stem(t) for t in variants(word)} == {stem(word)} and word in variants(word), word


CORPUS = [
    make_paper(
        1,
        title="Binary Neural Networks: a survey",
        abstract="Latencies of binary networks on mobile devices.",
        comment="Accepted at CVPR 2020",
        categories=["cs.CV", "cs.LG"],
        published="2019-05-01T00:00:00Z",
    ),
    make_paper(
        2,
        title="Efficient architectures",
        abstract="An efficient architecture search; low-bit weights.",
        authors=["Song Han", "Bill Dally"],
        categories=["cs.LG"],
        journal_ref="Proc. MLSys 2021",
        doi="10.1145/3386263.3407650",
    ),
    make_paper(
        3,
        title="Pruning processes",
        abstract="Network pruning of BERT. Vector quantized codes.",
        categories=["stat.ML", "math.OC"],
        published="2021-01-01T00:00:00Z",
    ),
    make_paper(
        4,
        title="Edge device latency",
        abstract="Distilling knowledge from teacher models",
        authors=["Geoffrey Hinton"],
        categories=["cs.NE"],
        comment="binary neural",
        journal_ref="network case",
    ),
    make_paper(5, id="hep-th/9901001", title="Strings", abstract="Nothing about networks.", categories=["hep-th"]),
    make_paper(6, id="dblp:conf/cvpr/X20", title="Binary neural networks at CVPR", categories=[]),
]


@pytest.mark.parametrize(
    "query",
    [
        'abs:"binary network"',
        "ti:network",
        "abs:latency",
        "ti:latencies",
        'ti:"efficient architecture"',
        "abs:low-bit",
        'abs:"low-bit"',
        "au:han",
        'au:"song han bill"',
        "co:cvpr",
        "jr:mlsys",
        "all:dally",
        'all:"networks accepted"',
        'all:"survey latencies"',
        'all:"neural network case"',
        'all:"hinton binary"',
        "cat:cs.LG",
        "cat:cs.*",
        "cat:stat.ML ANDNOT cat:math.OC",
        "id:2001.00002v3",
        "id:hep-th/9901001",
        "submittedDate:[202001010000 TO 202012312359]",
        "lastUpdatedDate:[20190101 TO 20200101]",
        "ti:binary AND (cat:cs.LG OR cat:cs.NE)",
        "(abs:pruning OR ti:pruned) ANDNOT abs:quantized",
        'abs:"vector quantized" ANDNOT ti:strings',
        "ti:binary abs:mobile",
        "ti:zzzz OR abs:network",
        "ti:zzzz AND abs:network",
        "abs:network ANDNOT ti:zzzz",
        "ti:processes",
        'ti:"--"',
        "all:network",
        # arXiv's rewriting rules, one or more each
        "ti:binary ti:pruning",  # a missing operator is OR
        "binary pruning",  # a word with no field is all:
        "ti:(binary pruning) AND cat:cs.LG",  # the field goes to every word of the group
        "ti:(binary (pruning OR latency))",  # ... nested groups too
        "ti:binary and abs:mobile",  # lower-case and is a word
        "NOT ti:binary",  # NOT is ANDNOT; a query may start with it
        "(ANDNOT ti:binary) AND cat:cs.LG",
        "abs:network AND NOT ti:binary",
        "(NOT cat:cs.LG OR cat:hep-th) ANDNOT ti:strings",
        "ti:binary AND AND AND cat:cs.CV",  # repeated operators collapse to the last
        "ti:binary AND OR abs:pruning",
        "au:song_han",  # the phrase "song han"
        "au:bill_song",
        "title:binary",
        "doi:10.1145/3386263.3407650",
        "doi:10.1145/*",
        "doi:10.9999/x OR ti:strings",
        "rn:CERN-TH-2020-001 OR ti:strings",
        "lastUpdatedDate:[2019 TO 2019]",  # read as submittedDate; partial ranges filled in
        "submittedDate:[201905 TO 201905]",
        "submittedDate:[20210101 TO 20210101]",
        'submittedDate:"202001010000 TO 202012312359"',
        "ti:binary OR ti:pruning AND cat:cs.LG",  # left to right, as the stand-in reads it
    ],
)
def test_queries_agree_with_the_reference_evaluator(db, query):
    save_papers(db, CORPUS)
    assert set(match_ids(db, query)) == reference(CORPUS[:5], query)


# ---------------------------------------------------------------- property test

WORDS = [
    "network",
    "networks",
    "binary",
    "binaries",
    "latency",
    "latencies",
    "process",
    "processes",
    "case",
    "cases",
    "cnn",
    "cnns",
    "architecture",
    "architectures",
    "bit",
    "bits",
    "nas",
    "x1",
    "2020",
    "a",
]
SEPARATORS = [" ", " ", " ", "-", ", ", ". ", " (", ") "]
text = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS), st.booleans()), max_size=7).map(
    lambda items: "".join((w.upper() if up else w) + sep for w, sep, up in items).strip()
)
CATEGORIES = ["cs.LG", "cs.CV", "stat.ML", "math.OC"]
DATES = ["2015-06-01T00:00:00Z", "2019-12-31T23:59:00Z", "2020-01-01T00:00:00Z", "2023-03-04T12:00:00Z"]

papers = st.lists(
    st.builds(
        lambda title, abstract, authors, comment, jr, cats, dates: (
            title or "untitled",
            abstract,
            authors,
            comment or None,
            jr or None,
            cats,
            sorted(dates),
        ),
        text,
        text,
        st.lists(text.filter(bool), max_size=3),
        text,
        text,
        st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=3),
        st.lists(st.sampled_from(DATES), min_size=2, max_size=2),
    ),
    min_size=1,
    max_size=8,
).map(
    lambda items: [
        make_paper(
            i,
            title=t,
            abstract=a,
            authors=au,
            comment=c,
            journal_ref=j,
            categories=cats,
            primary_category=(cats or [None])[0],
            published=d[0],
            updated=d[1],
            doi=f"10.{i % 2}/X{i}" if i % 3 else None,
        )
        for i, (t, a, au, c, j, cats, d) in enumerate(items, 1)
    ]
)

word = st.sampled_from(WORDS)
leaf = st.one_of(
    st.tuples(st.sampled_from(["ti", "abs", "au", "co", "jr", "all"]), word).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(st.sampled_from(["ti", "abs", "all", "jr"]), st.lists(word, min_size=2, max_size=3)).map(
        lambda t: f'{t[0]}:"{" ".join(t[1])}"'
    ),
    st.sampled_from(
        [f"cat:{c}" for c in CATEGORIES]
        + [
            "cat:cs.*",
            "cat:stat.*",
            "id:2001.00002",
            "id:2001.00003v2",
            "submittedDate:[201901010000 TO 202001010000]",
            "lastUpdatedDate:[20200101 TO 20231231]",
            "submittedDate:[2019 TO 2019]",
            'submittedDate:"202001010000 TO 202301010000"',
            "doi:10.1/*",
        ]
    ),
)
queries = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR", "ANDNOT"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        # arXiv's rewriting: missing operators, NOT, fields over groups, bare words
        st.tuples(inner, st.sampled_from(["", "NOT", "AND NOT", "AND AND"]), inner).map(lambda t: " ".join(t)),
        inner.map(lambda q: f"(NOT {q})"),
        st.tuples(st.sampled_from(["ti", "abs", "au"]), st.lists(word, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}:({' '.join(t[1])})"
        ),
    ),
    max_leaves=6,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=papers, query=queries)
def test_random_queries_agree_with_the_reference_evaluator(corpus, query):
    db = memory_db()
    save_papers(db, corpus)
    assert set(match_ids(db, query)) == reference(corpus, query)


# ---------------------------------------------------------------- saved queries end to end


def sample_lines() -> list[str]:
    text = resources.files("papertrack").joinpath("samples/papers.jsonl").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def test_match_links_and_tags_exactly_as_a_harvest_does(tmp_path, replay):
    """The shipped queries: harvest from the local stand-in vs import-snapshot + match."""
    from papertrack.sources.snapshot import record_to_paper

    shipped = load_config(ROOT / "queries.yaml")
    config = replace(shipped, queries=tuple(q for q in shipped.queries if q.source == "arxiv"))
    (tmp_path / "snap.jsonl").write_text("\n".join(sample_lines()) + "\n")
    server = replay([record_to_paper(json.loads(line)) for line in sample_lines()])
    harvested = open_db(tmp_path / "harvest.db")
    assert all(r.status == "ok" for r in harvest(harvested, config, **api(ArxivClient(server.url, delay=0))))
    matched = open_db(tmp_path / "match.db")
    import_snapshot(matched, tmp_path / "snap.jsonl", taxonomy=config.taxonomy)
    from papertrack.ingest.local_match import match_saved

    reports = match_saved(matched, config)
    links = "select q.name, pq.papers_id from papers_queries pq join queries q on q.id = pq.queries_id"
    tags = "select papers_id, t.name, origin from papers_tags pt join tags t on t.id = pt.tags_id"
    # the snapshot holds every sample paper, the harvest what some query matched: same links, and
    # the same tags on the papers both hold
    held = {r[0] for r in harvested.execute("select id from papers")}
    assert set(matched.execute(links).fetchall()) == set(harvested.execute(links).fetchall())
    assert {t for t in matched.execute(tags).fetchall() if t[0] in held} == set(harvested.execute(tags).fetchall())
    assert sum(r.linked for r in reports) == harvested["papers_queries"].count > 20
    assert all(r.linked == 0 for r in match_saved(matched, config))  # a rerun links nothing new


def test_match_command_and_try(run_cli, tmp_path):
    (tmp_path / "snap.jsonl").write_text("\n".join(sample_lines()) + "\n")
    (tmp_path / "queries.yaml").write_text((ROOT / "queries.yaml").read_text())
    assert run_cli("import-snapshot", "snap.jsonl").exit_code == 0
    result = run_cli("match", "--query", "binarization", "--query", "nas")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[2:]]
    assert [r[0] for r in rows] == ["binarization", "nas"] and all(int(r[1]) == int(r[2]) > 0 for r in rows)
    tried = run_cli("match", "--try", 'ti:"binary neural" ti:XNOR', "--limit", "2")
    assert tried.exit_code == 0
    reads, *lines = tried.output.splitlines()
    assert reads == 'arXiv reads: ti:"binary neural" OR ti:XNOR'  # a missing operator is OR
    assert lines[0].endswith("papers match") and int(lines[0].split()[0]) >= 2 and len(lines) == 5
    assert lines[3][11:21] >= lines[4][11:21]  # newest first
    bad = run_cli("match", "--try", "ti:binary AND (cat:cs.LG")
    assert bad.exit_code == 2
    assert bad.output == "Error: unbalanced parentheses: a '(' is never closed (arXiv answers HTTP 400)\n"
    assert run_cli("match", "--query", "nope").exit_code == 2


LONG = ["networks", "models", "layers", "weights", "network", "model", "layer", "weight"]


@pytest.mark.parametrize("field", ["ti", "abs", "all"])
@pytest.mark.parametrize("n", [3, 6, 9, 14])
def test_phrases_with_more_plural_spellings_than_the_bound_match_exactly(db, field, n):
    """Beyond `MAX_PHRASE_FORMS` spellings a phrase is found by its parts and confirmed
    row by row: the same papers as the reference evaluator, a phrase running from the
    title into the abstract included (all:)."""
    words = (LONG * 3)[: n + 4]
    papers = [
        make_paper(1, title=" ".join(words[:n]), abstract="unrelated text"),
        make_paper(2, title=" ".join(words[:3]), abstract=" ".join(words[3 : n + 1]) + " then more"),
        make_paper(3, title="other", abstract=" ".join(reversed(words[:n]))),
        make_paper(4, title="other", abstract=" ".join(words[:n]).replace("layer", "lair")),
        make_paper(5, title=(respelled := "x " + " ".join(w.rstrip("s") + "s" for w in words[: n + 1])), abstract=respelled),
    ]
    save_papers(db, papers)
    query = f'{field}:"{" ".join(words[:n])}"'
    expected = {p.id for p in papers if evaluate(parse(query), record_of(p))}
    assert set(match_ids(db, query)) == expected
    assert "2001.00005" in expected  # every word in its other spelling


def test_try_with_a_long_phrase_answers_at_once(run_cli, tmp_path):
    (tmp_path / "snap.jsonl").write_text("\n".join(sample_lines()) + "\n")
    assert run_cli("import-snapshot", "snap.jsonl").exit_code == 0
    phrase = " ".join((LONG[:4] * 10)[:40])
    for query in (f'ti:"{phrase}"', f'all:"{phrase}"', f'abs:"{phrase}" OR ti:"{phrase}"'):
        tried = run_cli("match", "--try", query)
        assert tried.exit_code == 0 and "0 papers match" in tried.output, tried.output


def test_a_covering_snapshot_makes_the_first_harvest_incremental(tmp_path, replay):
    from papertrack.ingest.local_match import match_saved
    from papertrack.sources.snapshot import record_to_paper

    config = load_config(ROOT / "queries.yaml")
    (tmp_path / "snap.jsonl").write_text("\n".join(sample_lines()) + "\n")
    db = open_db(tmp_path / "p.db")
    report = import_snapshot(db, tmp_path / "snap.jsonl")
    match_saved(db, config, ["binarization"])
    watermark, covered = db.execute(
        "select watermark, covered || ' ' || covered_via from queries where name = 'binarization'"
    ).fetchone()
    assert watermark == report.newest and covered == f"{report.newest[:10]} snapshot"  # backfilled: OAI-PMH may take it
    server = replay([record_to_paper(json.loads(line)) for line in sample_lines()])
    [run] = harvest(db, config, ["binarization"], **api(ArxivClient(server.url, delay=0, page_size=5)))
    assert (run.requests, run.new) == (1, 0)  # stops at the snapshot's date instead of paging everything


def test_a_filtered_snapshot_does_not_set_watermarks_it_cannot_vouch_for(tmp_path, db):
    from papertrack.ingest.local_match import match_saved
    from papertrack.ingest.snapshot import Filter

    write_queries(
        tmp_path / "q.yaml",
        "queries:\n  - name: b\n    source: arxiv\n    query: 'ti:binary AND (cat:cs.LG OR cat:stat.ML)'\n",
    )
    (tmp_path / "snap.jsonl").write_text("\n".join(sample_lines()) + "\n")
    import_snapshot(db, tmp_path / "snap.jsonl", keep=Filter(("cs.",)))
    match_saved(db, load_config(tmp_path / "q.yaml"))
    assert db.execute("select watermark from queries").fetchone()[0] is None
