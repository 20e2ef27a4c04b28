"""Ground truth: on the shared real corpora, `match` finds exactly what a harvest from the
shared arXiv stand-in (../shared/tools/fake_arxiv.py, its own query evaluator) finds, for
every shipped query. Skips in a fresh clone, where ../shared is absent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from papertrack.config import load_config
from papertrack.ingest.local_match import match_saved
from papertrack.ingest.snapshot import import_snapshot
from papertrack.store.schema import open_db
from tests.helpers import ROOT, requires_shared, start_fake_arxiv

pytestmark = pytest.mark.shared
LINKS = "select q.name, pq.papers_id from papers_queries pq join queries q on q.id = pq.queries_id"


def by_query(db) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, pid in db.execute(LINKS):
        out.setdefault(name, set()).add(pid)
    return out


@pytest.mark.parametrize("corpus", ["oai-cs-2015-2016.jsonl", "oai-all-2023-03.jsonl"])
def test_match_finds_what_a_harvest_from_the_stand_in_finds(tmp_path, corpus):
    path = requires_shared("data", "arxiv", corpus)
    queries = ROOT / "queries.yaml"
    config = load_config(queries)
    arxiv_queries = [arg for q in config.queries if q.source == "arxiv" for arg in ("--query", q.name)]
    proc, url, _ = start_fake_arxiv(tmp_path, "stand-in", corpus)
    try:
        env = {**os.environ, "PAPERTRACK_ARXIV_URL": url, "PAPERTRACK_ARXIV_DELAY": "0"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "papertrack",
                "harvest",
                "--db",
                str(tmp_path / "harvest.db"),
                "--queries",
                str(queries),
                *arxiv_queries,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        proc.kill()
    assert done.returncode == 0, done.stdout + done.stderr
    db = open_db(tmp_path / "match.db")
    import_snapshot(db, path)
    match_saved(db, config)
    harvested, matched = by_query(open_db(tmp_path / "harvest.db")), by_query(db)
    differences = {
        q.name: {
            "only harvest": sorted(harvested.get(q.name, set()) - matched.get(q.name, set())),
            "only match": sorted(matched.get(q.name, set()) - harvested.get(q.name, set())),
        }
        for q in config.queries
        if q.source == "arxiv" and harvested.get(q.name) != matched.get(q.name)
    }
    assert not differences
    assert sum(map(len, matched.values())) > 10


RULE_QUERIES = [
    "ti:quantization ti:pruning",  # missing operator: OR
    "binarized ternary",  # no field: all:
    "ti:(binary ternary) AND cat:cs.CV",  # the field over a group
    "ti:(network (pruning OR compression))",
    "ti:(xnor not ternary)",  # lower-case not is a word
    "ti:binary AND NOT cat:cs.CV",  # NOT is ANDNOT
    "(ANDNOT cat:cs.LG) AND ti:pruning",  # a group may start with ANDNOT
    "NOT cat:cs.CV AND ti:binarized",
    "ti:pruning AND AND abs:network",  # repeated operators: the last stands
    "ti:pruning AND OR ti:compression",
    "au:song_han",  # the phrase "song han"
    "title:squeezenet",
    "lastUpdatedDate:[2016 TO 2016] AND ti:quantization",  # submittedDate; partial ranges
    "submittedDate:[201510 TO 201512] AND abs:compression",
    'submittedDate:"201601010000 TO 201606302359" AND ti:binary',
    "doi:10.1109/* AND ti:network",
    "rn:CERN-TH-2020-001 OR ti:binarized",
    "ti:binary OR ti:ternary AND cat:cs.CV",  # left to right
]


def ids_found(url: str, query: str) -> set[str]:
    import re
    from urllib.parse import urlencode
    from urllib.request import urlopen

    with urlopen(f"{url}?{urlencode({'search_query': query, 'max_results': 2000})}", timeout=60) as response:
        return set(re.findall(r"<id>http://arxiv\.org/abs/(.+?)v\d+</id>", response.read().decode()))


def test_the_stand_in_finds_what_the_shared_reference_finds_rule_by_rule(tmp_path):
    import json

    from papertrack.sources.arxiv_standin import ReplayArxiv
    from papertrack.sources.snapshot import record_to_paper

    corpus = "oai-cs-2015-2016.jsonl"
    path = requires_shared("data", "arxiv", corpus)
    papers = [record_to_paper(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
    proc, url, _ = start_fake_arxiv(tmp_path, "reference", corpus)
    try:
        with ReplayArxiv(papers) as ours:
            found = {q: (ids_found(url, q), ids_found(ours.url, q)) for q in RULE_QUERIES}
    finally:
        proc.kill()
    assert {q: ref ^ mine for q, (ref, mine) in found.items() if ref != mine} == {}
    assert sum(bool(ref) for ref, _ in found.values()) == len(RULE_QUERIES)  # every query finds papers
