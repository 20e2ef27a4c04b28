"""Related papers precomputed by `papertrack rank` (rank/neighbours.py): the lists are exact
cosine's where the candidate search reaches, read back by the CLI and the paper page alike;
papers stored since the last rank fall back to the full-text look-up."""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp
from datasette.utils import tilde_decode, tilde_encode
from sklearn.preprocessing import normalize

from papertrack.config import parse_config
from papertrack.rank import neighbours
from papertrack.rank.profiles import rank
from papertrack.rank.related import precomputed, related, related_ids
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from papertrack.web.serve import datasette_for
from tests import rank_corpus as corpus
from tests.helpers import make_paper

CONFIG = parse_config(corpus.QUERIES)


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    """The corpus saved as a harvest would and ranked with no profile: every paper's list."""
    return corpus.ranked_db(tmp_path_factory.mktemp("related") / "papers.db", [])


def random_vectors(n: int, seed: int = 3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((n, 40)) * (rng.random((n, 40)) < 0.2)
    return normalize(sp.csr_matrix(dense, dtype=np.float32))


def test_strongest_and_budgeted_keep_the_largest_entries_first():
    X = sp.csr_matrix(np.array([[0.1, 0.5, 0.0, 0.3], [0.2, 0.0, 0.9, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(neighbours.strongest(X, 2).toarray(), [[0, 0.5, 0, 0.3], [0.2, 0, 0.9, 0]])
    df = np.array([1, 5, 2, 1])  # column 1 alone is over a budget of 4; column 3 then fits
    np.testing.assert_allclose(neighbours.budgeted(X, df, 4).toarray(), [[0.1, 0, 0, 0.3], [0.2, 0, 0.9, 0]])
    np.testing.assert_allclose(neighbours.budgeted(X, df, 2).toarray(), [[0.1, 0, 0, 0.3], [0, 0, 0.9, 0]])


def test_the_lists_are_exact_cosine_when_the_search_reaches_every_paper(monkeypatch):
    X = random_vectors(60)
    exact = (X @ X.T).toarray()
    np.fill_diagonal(exact, -1)
    monkeypatch.setattr(neighbours, "TOP_TERMS", 40)
    monkeypatch.setattr(neighbours, "CANDIDATES", 59)
    found = neighbours.nearest(X, neighbours.candidates(X, n_jobs=1), keep=5)
    for i, near in enumerate(found):
        assert [j for j, _ in near] == list(np.lexsort((np.arange(60), -exact[i]))[:5])
        assert [s for _, s in near] == pytest.approx(exact[i][[j for j, _ in near]], abs=1e-6)


def test_a_small_budget_narrows_the_candidates_but_keeps_the_closest(monkeypatch):
    X = random_vectors(200)
    monkeypatch.setattr(neighbours, "BUDGET", 60)
    monkeypatch.setattr(neighbours, "CANDIDATES", 20)
    cands = neighbours.candidates(X, n_jobs=1)
    assert max(np.diff(cands.indptr)) <= 21
    exact = (X @ X.T).toarray()
    np.fill_diagonal(exact, -1)
    best = exact.argmax(axis=1)
    found = neighbours.nearest(X, cands, keep=1)
    assert np.mean([near[0][0] == b for near, b in zip(found, best)]) > 0.7  # by chance: 1 in 20


def test_rank_stores_every_paper_s_list_and_related_reads_it(listed):
    db = open_db(listed)
    assert db.execute("select count(*) from related_papers").fetchone()[0] == 300
    pid = corpus.paper("graphs", 5).id
    stored = json.loads(db.execute("select related from related_papers where papers_id = ?", [pid]).fetchone()[0])
    found = related(db.conn, pid, 10)
    assert [[r.id, r.score] for r in found] == stored and len(found) == 10
    assert {corpus.topic_of(r.id) for r in found} == {"graphs"} and pid not in {r.id for r in found}
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True) and 0 < found[-1].score <= 1
    assert [r.id for r in related(db.conn, pid, 3)] == [r.id for r in found[:3]]


def test_papers_stored_since_the_last_rank_are_looked_up_in_the_full_text_index(listed, tmp_path):
    path = tmp_path / "papers.db"
    path.write_bytes(listed.read_bytes())
    db = open_db(path)
    new = corpus.paper("robotics", 200, month="2024-07")
    with transaction(db):
        save_papers(db, [new])
        db.execute("delete from papers where id = ?", [corpus.paper("graphs", 6).id])
    assert precomputed(db.conn, new.id) is None
    found = related(db.conn, new.id, 10)
    assert len(found) == 10 and {corpus.topic_of(r.id) for r in found} == {"robotics"}
    gone = corpus.paper("graphs", 6).id  # a deleted paper drops out of the lists that held it
    holders = [r[0] for r in db.execute("select papers_id from related_papers where related like ?", [f'%"{gone}"%'])]
    assert holders and all(gone not in {r.id for r in related(db.conn, h, 10)} for h in holders)
    rank(db, [], [], n_jobs=1)
    assert [r.id for r in related(db.conn, new.id, 10)] == [r.id for r in precomputed(db.conn, new.id) or []]


def test_the_paper_page_lists_what_the_command_prints(listed):
    ds = datasette_for(listed)
    db = open_db(listed)
    for pid in (corpus.paper("graphs", 5).id, corpus.paper("llm-quant", 2).id):
        html = asyncio.run(ds.client.get(f"/papers/papers/{tilde_encode(pid)}")).text
        section = html.split('<h2 id="related">Related papers</h2>')[1].split("</ol>")[0]
        linked = [tilde_decode(i) for i in re.findall(r'href="/papers/papers/([^"]+)"', section)]
        assert linked == [i for i, _ in related_ids(db.conn, pid, 10)]


def test_an_empty_database_ranks_to_no_lists(tmp_path):
    db = open_db(tmp_path / "empty.db")
    with transaction(db):
        save_papers(db, [make_paper(1)])
    assert rank(db, [], [], n_jobs=1).related == 1
    assert related(db.conn, "2001.00001") == []  # its stored list is empty, and the look-up finds nobody else


def test_a_database_too_small_for_word_statistics_falls_back_to_the_lookup(tmp_path):
    """Under 30 papers every word is in more than 10% of them or in fewer than 3: the stored
    lists are empty, and `related` looks the paper up in the full-text index instead."""
    db = open_db(tmp_path / "small.db")
    rare = "zephyr quokka marmot ocelot tapir wombat narwhal axolotl pangolin okapi gecko lemur".split()
    with transaction(db):
        save_papers(
            db,
            [make_paper(i, title=f"Study {i}", abstract=f"A method using {rare[i % 12]} ideas.") for i in range(1, 25)],
        )
    rank(db, [], [], n_jobs=1)
    assert db.execute("select related from related_papers where papers_id = '2001.00001'").fetchone()[0] == "[]"
    assert [r.id for r in related(db.conn, "2001.00001")] == ["2001.00013"]  # the one sharing its rare word


def test_rank_reads_the_topics_from_the_database_not_the_queries_file(listed, tmp_path, run_cli):
    """`papertrack rank` from a directory without queries.yaml computes the same lists as
    with the file: the topic tags come from the taxonomy tags stored with the papers."""
    import shutil

    from papertrack.store.tags import taxonomy_tags

    db = open_db(listed)
    assert set(taxonomy_tags(db)) == {r.tag for r in CONFIG.taxonomy} & {r[0] for r in db.execute("select name from tags")}
    before = dict(db.execute("select papers_id, related from related_papers").fetchall())
    db.close()
    shutil.copy(listed, tmp_path / "copy.db")
    assert not (tmp_path / "queries.yaml").exists()
    assert run_cli("rank", "--db", "copy.db").exit_code == 0
    after = open_db(tmp_path / "copy.db")
    assert dict(after.execute("select papers_id, related from related_papers").fetchall()) == before
