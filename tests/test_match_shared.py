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
