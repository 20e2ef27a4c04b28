"""A reader's own ranking: the fit with dislikes (`rank.feedback`), the in-memory index,
the for-you sort's three ways of reading a selection, the ranking process, and the page."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import numpy as np
import pytest

from papertrack.accounts import foryou
from papertrack.accounts.foryou import CURRENT, FOR_YOU, Ranking, Recommender
from papertrack.accounts.ranker import FitJob, connect, fit_job
from papertrack.rank.features import read_batch
from papertrack.rank.feedback import PaperIndex, fit_feedback, papers_signature, reasons
from papertrack.store.browse import BrowseQuery, browse_page, register_sort
from papertrack.store.browse_search import select
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db
from papertrack.store.schema import transaction as db_transaction
from papertrack.web.accounts import accounts_of
from tests import rank_corpus as corpus
from tests.helpers import CARD, CookieClient, site_with_accounts, wait_until

register_sort(FOR_YOU)
LIBRARY = corpus.library(6)  # LLM-quantization papers
PRUNING = [corpus.paper("pruning", k).id for k in range(8)]


@pytest.fixture(scope="module")
def papers(tmp_path_factory):
    path = tmp_path_factory.mktemp("foryou") / "papers.db"
    db = open_db(path)
    with db_transaction(db):
        save_papers(db, corpus.papers())
    db.close()
    return path


@pytest.fixture(scope="module")
def index(papers):
    conn = connect(papers)
    yield PaperIndex.build(conn)
    conn.close()


def places(index: PaperIndex, scores: np.ndarray, ids: list[str]) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    rank_of = {index.ids[r]: i for i, r in enumerate(order)}
    return [rank_of[i] for i in ids]


def test_a_profile_ranks_its_topic_first_and_dislikes_push_theirs_down(index):
    pos = index.row_of(LIBRARY)
    plain = fit_feedback(index.X, pos, seed=1).scores(index.X)
    top = [index.ids[r] for r in np.argsort(-plain)[:40] if r not in set(pos)]
    assert sum(corpus.topic_of(pid) == "llm-quant" for pid in top[:30]) >= 25
    others = [corpus.paper("pruning", k).id for k in range(20, 50)]  # pruning papers not disliked
    disliked = fit_feedback(index.X, pos, index.row_of(PRUNING), seed=1).scores(index.X)
    assert np.mean(places(index, disliked, others)) > np.mean(places(index, plain, others)) + 20


def test_the_unlabelled_sample_is_fixed_per_reader(index):
    pos = index.row_of(LIBRARY)
    a = fit_feedback(index.X, pos, seed=3, unlabelled=100).coef
    assert np.array_equal(a, fit_feedback(index.X, pos, seed=3, unlabelled=100).coef)
    assert not np.array_equal(a, fit_feedback(index.X, pos, seed=4, unlabelled=100).coef)


def test_reasons_name_terms_for_and_against(index, papers):
    model = fit_feedback(index.X, index.row_of(LIBRARY), index.row_of(PRUNING), seed=1)
    cols, weights = model.strongest()
    conn = connect(papers)
    batch = read_batch(conn, [corpus.paper("llm-quant", 30).id, corpus.paper("pruning", 30).id])
    (quant_for, _), (_, pruning_against) = reasons(index.feat, cols, weights, batch)
    conn.close()
    words = set(corpus.TOPICS["llm-quant"][1])
    assert quant_for and any(set(r.split()) & words for r in quant_for)
    assert pruning_against and any(set(r.split()) & set(corpus.TOPICS["pruning"][1]) for r in pruning_against)


def test_the_index_takes_new_papers_and_rebuilds_when_papers_go(tmp_path):
    db = open_db(tmp_path / "p.db")
    with db_transaction(db):
        save_papers(db, corpus.papers(20))
    conn = connect(tmp_path / "p.db")
    index = PaperIndex.build(conn)
    assert index.refresh(conn) is index and index.signature == papers_signature(conn) == (120, 120)
    with db_transaction(db):
        save_papers(db, corpus.papers(5, start=20))
    grown = index.refresh(conn)
    assert grown.feat is index.feat and len(grown.ids) == 150 and grown.X.shape[0] == 150
    assert grown.keys[-1] == 150 and grown.signature == (150, 150)
    with db_transaction(db):
        db.execute("delete from papers where id = ?", [grown.ids[0]])
    rebuilt = grown.refresh(conn)
    assert rebuilt.feat is not index.feat and len(rebuilt.ids) == 149
    conn.close()
    db.close()


# ---------------------------------------------------------------- the sort


@pytest.fixture(scope="module")
def ranking(index):
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=len(index.ids)), 1)  # ties on purpose
    keep = np.arange(len(index.ids))[5:]  # the first five are "judged"
    keys, values = index.keys[keep], -scores[keep]
    order = np.lexsort((keys, values))
    return Ranking(1, 1, keys[order], values[order], np.zeros(0, np.int32), np.zeros(0, np.float32), index.signature)


QUERIES = [
    BrowseQuery(),
    BrowseQuery(tags=()),
    BrowseQuery(q="quantization"),
    BrowseQuery(q="pruning sparse", category="cs.LG"),
    BrowseQuery(category="cs.CV"),
    BrowseQuery(mute=("robot",)),
    BrowseQuery(category="cs.CL", mute=("dialogue",)),
    BrowseQuery(q="ti:quantization AND cat:cs.CL"),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: repr(q)[11:60])
@pytest.mark.parametrize("walk", [False, True], ids=["fetch", "walk"])
def test_for_you_pages_are_the_ranking_filtered_by_the_selection(papers, ranking, query, walk, monkeypatch):
    # every selection counts as common (walked in small chunks) or as rare (fetched whole)
    monkeypatch.setattr(foryou, "WALK_SHARE", 0.0 if walk else 2.0)
    monkeypatch.setattr(foryou, "FETCH_ALL", -1 if walk else 10**9)
    monkeypatch.setattr(foryou, "WALK", 7)
    conn = sqlite3.connect(papers)
    sel = select(conn, query.q, query.tags, query.category, query.venue, query.year, query.mute)
    frm, params, _, key = sel.source()
    members = {r[0] for r in conn.execute(f"select {key} {frm}", params)}
    expected = [int(k) for k in ranking.keys if int(k) in members]
    token = CURRENT.set(ranking)
    seen, after = [], None
    try:
        while True:
            page = browse_page(
                conn, BrowseQuery(**{**query.__dict__, "sort": "for-you", "after": after}), size=9, counts=False
            )
            seen += [c.k for c in page.cards]
            if page.next is None:
                break
            after = page.next
    finally:
        CURRENT.reset(token)
        conn.close()
    assert seen == expected and len(expected) > 0


def test_for_you_without_a_ranking_is_refused(papers):
    from papertrack.errors import UsageError

    conn = sqlite3.connect(papers)
    with pytest.raises(UsageError, match="sign in first"):
        browse_page(conn, BrowseQuery(sort="for-you"))
    conn.close()


def test_a_cursor_between_ties_resumes_after_the_key(ranking):
    v = float(ranking.values[10])
    tied = [int(k) for k, x in zip(ranking.keys, ranking.values) if x == v]
    assert len(tied) > 1
    at = ranking.start((v, tied[0]))
    assert int(ranking.keys[at]) == tied[1]


# ---------------------------------------------------------------- the process and the page


def test_the_ranking_process_fits_and_keeps_the_newest(papers):
    recommender = Recommender(papers, n_jobs=1)
    try:
        signature = (300, 300)
        assert recommender.ask(7, 1, signature, LIBRARY[:2], []) == 1  # one more positive needed
        assert recommender.ask(7, 2, signature, LIBRARY, PRUNING) == 0
        ranking = recommender.wait(7, 2, timeout=120)
        assert ranking is not None and ranking.version == 2 and ranking.positives == 6 and ranking.negatives == 8
        judged = set(corpus.paper("llm-quant", k).id for k in range(6)) | set(PRUNING)
        assert len(ranking.keys) == 300 - len(judged)
        assert recommender.status(7, 2, signature).updating is False
        assert recommender.status(7, 3, signature).updating is True
        assert not recommender.needs_fit(7, 2, signature) and recommender.needs_fit(7, 3, signature)
    finally:
        recommender.close()


def test_fit_job_leaves_out_judged_papers_and_orders_by_score(index):
    result = fit_job(index, FitJob(1, 1, LIBRARY, PRUNING))
    assert not set(result.keys.tolist()) & set(index.keys[index.row_of(LIBRARY + PRUNING)].tolist())
    assert np.all(np.diff(result.values) >= 0) and result.idf is not None


def test_for_you_in_the_browser_flow(papers, tmp_path):
    ds = site_with_accounts(tmp_path, {"alice": "reader"}, "correct horse battery", papers=papers)
    client = CookieClient(ds, asyncio.new_event_loop())
    try:
        client.login("alice", "correct horse battery")
        for pid in LIBRARY[:3]:
            client.post("/-/library", {"paper": pid, "action": "save"}, status=303)
        recommender = accounts_of(ds).recommender
        assert recommender.wait(1, 3, timeout=120) is not None  # asked for when the third was saved
        html = client.get("/browse?sort=for-you").text
        cards = CARD.findall(html)
        assert "<strong>for you</strong>" in html and 'id="for-you-notice"' not in html
        assert not set(cards) & set(LIBRARY[:3])
        assert sum(corpus.topic_of(c) == "llm-quant" for c in cards) >= 15
        assert re.search(r'<span class="for">for: [^<]*(quantiz|llm|cache|bit)', html)

        target = next(c for c in reversed(CARD.findall(client.get("/browse?sort=for-you&q=robot").text)))
        client.post("/-/library", {"paper": target, "action": "like"}, status=303)
        client.post("/-/library", {"paper": cards[0], "action": "dislike"}, status=303)
        wait_until(lambda: (r := recommender.ranking(1)) is not None and r.version == 5, timeout=120, what="the refit")
        after = CARD.findall(client.get("/browse?sort=for-you").text)
        assert cards[0] not in after and target not in after and after != cards
        robots = sum(corpus.topic_of(c) == "robotics" for c in CARD.findall(client.get("/browse?sort=for-you").text))
        assert robots >= 1

        more = client.get("/browse?sort=for-you&tag=nothing-like-this", status=400)
        assert "no paper has the tag" in more.text
    finally:
        accounts_of(ds).close()
        client.close()
