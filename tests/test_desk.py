"""The desk's library functions: picks in the editor's order, the issue's window, the
candidates best first for a profile fitted by `rank` and grouped by tag, the picks with
their notes, fallbacks and drafts, and the desk's writes under the database's lock."""

from __future__ import annotations

import datetime as dt

import pytest

from papertrack.config import parse_config
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import LockHeld, UsageError
from papertrack.newsletter import desk
from papertrack.newsletter.editorial import Note, move, pick, picked_ids, set_note, unpick, web_url
from papertrack.rank.profiles import rank
from papertrack.sources.locks import database_lock
from papertrack.store.drafts import accept_draft, save_draft
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries
from papertrack.store.schema import open_db, transaction
from tests import rank_corpus as corpus
from tests.helpers import make_paper

ISSUE = "2020-01-20"


@pytest.fixture
def five(db):
    with transaction(db):
        save_papers(db, [make_paper(i) for i in range(1, 6)])
    return db


def test_new_picks_go_last_and_move_puts_them_anywhere(five):
    db = five
    pick(db, ["2001.00003", "2001.00001"], ISSUE)
    pick(db, ["2001.00002", "2001.00003"], ISSUE)
    assert picked_ids(db, ISSUE) == ["2001.00003", "2001.00001", "2001.00002"]
    assert move(db, ["2001.00002"], ISSUE, 1) == ["2001.00002", "2001.00003", "2001.00001"]
    assert move(db, ["2001.00002"], ISSUE, 99) == ["2001.00003", "2001.00001", "2001.00002"]
    assert move(db, ["2001.00002", "2001.00001"], ISSUE, 1) == ["2001.00002", "2001.00001", "2001.00003"]
    unpick(db, ["2001.00001"], ISSUE)
    pick(db, ["2001.00004"], ISSUE)
    assert picked_ids(db, ISSUE) == ["2001.00002", "2001.00003", "2001.00004"]
    assert [r[0] for r in db.execute("select position from picks where issue = ? order by position", [ISSUE])] == [1, 2, 3]
    with pytest.raises(UsageError, match="2001.00005 is not picked for 2020-01-20"):
        move(db, ["2001.00005"], ISSUE, 1)
    assert picked_ids(db, "2020-02-03") == []


def test_picks_stored_before_the_editors_order_keep_theirs(five):
    db = five
    with transaction(db):  # as an older papertrack left them: no position
        for n, pid in enumerate(["2001.00004", "2001.00002"]):
            db.execute("insert into picks (papers_id, issue, picked) values (?, ?, ?)", [pid, ISSUE, f"2020-01-0{n + 1}"])
    assert picked_ids(db, ISSUE) == ["2001.00004", "2001.00002"]
    pick(db, ["2001.00001"], ISSUE)
    assert picked_ids(db, ISSUE) == ["2001.00004", "2001.00002", "2001.00001"]
    assert db.execute("select count(*) from picks where position is null").fetchone()[0] == 0


def test_the_pick_command_places_papers(run_cli, tmp_path):
    db = open_db(tmp_path / "papers.db")
    with transaction(db):
        save_papers(db, [make_paper(i) for i in range(1, 4)])
    db.close()
    run_cli("pick", "--db", "papers.db", "2001.00001", "2001.00002", "--issue", ISSUE)
    result = run_cli("pick", "--db", "papers.db", "2001.00003", "--issue", ISSUE, "--at", "1")
    assert result.exit_code == 0 and "order: 2001.00003 2001.00001 2001.00002" in result.output


def test_the_window_is_the_fortnight_before_the_issue_unless_given():
    assert desk.window("2020-03-19") == (dt.date(2020, 3, 5), dt.date(2020, 3, 18))
    assert desk.window("2020-03-19", "2020-03-01", None) == (dt.date(2020, 3, 1), dt.date(2020, 3, 18))
    with pytest.raises(UsageError, match="at most 92"):
        desk.window("2020-03-19", "2019-01-01")
    with pytest.raises(UsageError, match="ends"):
        desk.window("2020-03-19", "2020-03-10", "2020-03-01")
    with pytest.raises(UsageError, match="before any paper"):
        desk.window("0001-01-05")


@pytest.mark.parametrize(
    "url, ok",
    [("https://mp.weixin.qq.com/s/x", True), ("HTTP://EXAMPLE.COM/a", True), (" https://x.org/a ", True),
     ("javascript:alert(1)", False), ("data:text/html,x", False), ("https://", False), ("https://a b", False),
     ("//evil.example", False), ("https://x.org/\x00", False), ("ftp://x.org", False), (None, False)],
)  # fmt: skip
def test_web_url(url, ok):
    assert bool(web_url(url)) is ok


def picked_corpus(path):
    """The ranking corpus, tagged, with the editor's past picks on LLM quantization and
    `picks` fitted (also the browser test's database)."""
    db = open_db(path)
    config = parse_config(corpus.QUERIES)
    ids = sync_queries(db, config.queries)
    with transaction(db):
        save_papers(db, corpus.papers(), query_id=ids["everything"], taxonomy=Taxonomy(config.taxonomy))
    pick(db, [corpus.paper("llm-quant", k).id for k in range(0, 24, 2)], "2024-01-01")
    rank(db, ["picks"])
    return db


@pytest.fixture
def ranked(tmp_path):
    return picked_corpus(tmp_path / "papers.db")


def test_candidates_best_first_for_the_editors_picks(ranked):
    state = desk.read_desk(ranked, "2024-03-15", date_from="2024-03-01", date_to="2024-03-14")
    assert state.ranked and state.profile == "picks" and "picks" in state.profiles
    papers = [p for g in state.groups for p in g.papers + g.featured]
    in_window = ranked.execute("select count(*) from papers where published >= '2024-03-01' and published < '2024-03-15'")
    assert len(papers) == state.candidates == in_window.fetchone()[0] > 20
    topics = [corpus.topic_of(p.id) for p in sorted(papers, key=lambda p: -p.score)]
    k = topics.count("llm-quant")
    assert k >= 3 and topics[:k] == ["llm-quant"] * k  # the picks' topic first
    assert all(p.why for p in papers if corpus.topic_of(p.id) == "llm-quant")  # with what raised their scores
    for group in state.groups:
        scores = [p.score for p in group.papers]
        assert scores == sorted(scores, reverse=True)
    assert [g.tag for g in state.groups] == ["ml"]  # under the saved query's tag, though most have taxonomy tags too
    assert sum("quantization" in p.tags for p in papers) >= 3
    featured = [p for g in state.groups for p in g.featured]
    assert featured and all(p.featured == ["2024-01-01"] for p in featured)
    newest = desk.read_desk(ranked, "2024-03-15", date_from="2024-03-01", date_to="2024-03-14", profile="pruning")
    assert not newest.ranked and [p.published for p in newest.groups[0].papers] == sorted(
        (p.published for p in newest.groups[0].papers), reverse=True
    )
    with pytest.raises(UsageError, match="no profile 'nothing'"):
        desk.read_desk(ranked, "2024-03-15", profile="nothing")


def test_picks_carry_the_note_the_fallbacks_and_the_drafts(five):
    db = five
    pick(db, ["2001.00001", "2001.00002"], ISSUE)
    set_note(db, "2001.00001", Note(headline="编辑", summary="编辑的摘要"))
    with transaction(db):
        save_draft(db, "2001.00002", "zh", "草稿", "草稿摘要", "m", "p@1")
        accept_draft(db, "2001.00002", "zh")
        save_draft(db, "2001.00002", "zh", "新草稿", "新的", "m", "p@1")
    state = desk.read_desk(db, ISSUE)
    one, two = state.picks
    assert one.note["headline"] == "编辑" and one.fallback["summary"].startswith("We propose method 1")
    assert two.note["headline"] is None and two.fallback == {"headline": "草稿", "summary": "草稿摘要", "code": ""}
    assert two.drafts.newest.headline == "新草稿" and two.drafts.accepted.headline == "草稿"
    assert state.markdown == desk.issue_markdown(db, ISSUE) and "[草稿 | arXiv]" in state.markdown
    assert "【草稿】" not in desk.read_desk(db, ISSUE, drafts=True).markdown  # an accepted draft beats a newer one
    with pytest.raises(UsageError, match="nothing is picked for 2020-02-03"):
        desk.issue_markdown(db, "2020-02-03")


def test_desk_writes_take_the_database_lock(tmp_path):
    db = open_db(tmp_path / "papers.db")
    db.close()
    with database_lock(tmp_path / "papers.db", owner="papertrack harvest"):
        with pytest.raises(LockHeld, match="papertrack harvest"):
            with desk.locked(tmp_path / "papers.db", wait=0.1):
                pass
    with desk.locked(tmp_path / "papers.db") as writable:
        assert writable.execute("select count(*) from papers").fetchone()[0] == 0
