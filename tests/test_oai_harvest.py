"""arXiv's daily run through OAI-PMH, end to end: CLI -> the OAI-PMH stand-in (and the
query API stand-in for backfills) -> local matching -> SQLite, over simulated days."""

from __future__ import annotations

import json
import math
import signal
import time
from datetime import date, timedelta

import pytest

from papertrack.config import parse_config
from papertrack.ingest.local_match import saved_query_text
from papertrack.sources.arxiv import ArxivClient
from papertrack.store.schema import open_db
from tests.helpers import start_papertrack, wait_until, write_queries
from tests.oai_world import DAY0, QUERIES, World, base_corpus, record, revised, stamp, touched
from tests.sparql_standin import SparqlStandIn

CONFIG = parse_config(QUERIES)


@pytest.fixture
def world():
    worlds = []

    def start(records=None, **kw) -> World:
        worlds.append(World(base_corpus() if records is None else records, **kw))
        return worlds[-1]

    yield start
    for w in worlds:
        w.close()


def linked(db, name):
    return sorted(
        r[0]
        for r in db.execute(
            "select papers_id from papers_queries join queries q on q.id = queries_id where q.name = ?", [name]
        )
    )


def stored_ids(db) -> list[str]:
    return [r[0] for r in db.execute("select id from papers order by id")]


def arxivs_answers(w: World) -> list[str]:
    """Every paper some saved query finds on arXiv today: what the database should hold."""
    return sorted({i for query in CONFIG.queries for i in arxivs_answer(w, query)})


def arxivs_answer(w: World, query) -> list[str]:
    """What arXiv's search (the query API stand-in) returns for a saved query today."""
    page = ArxivClient(w.api.url, delay=0).page(saved_query_text(query), 0, 2000)
    assert page.total == len(page.papers)
    return sorted(p.id for p in page.papers)


def rows(result):
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}


def day_of_news(d: int, base: list[dict]) -> list[dict]:
    """What day `d` of the week brings: new papers of every topic (one late), a new version
    of an old paper, a metadata change. Day 5 and 6 (a weekend) bring nothing."""
    day = DAY0 + timedelta(days=d)
    if d in (5, 6):
        return []
    news = [
        record(100 + 10 * d, "binary", day, "cs.CV"),
        record(101 + 10 * d, "quant", day, "stat.ML" if d == 2 else "cs.LG"),
        record(102 + 10 * d, "prune", day, "math.OC"),
        record(103 + 10 * d, "noise", day, "cs.LG"),
        revised(base[d], day),
        touched(base[d + 10], day),
    ]
    if d == 3:  # dated yesterday, listed only today (arXiv announces late)
        news.append(record(199, "binary", day - timedelta(days=1), "cs.LG"))
    return news


def test_a_week_of_daily_runs_keeps_up_through_oai_with_arxivs_answer(run_cli, tmp_path, world):
    w = world(limit=4)  # tiny pages, so paging is exercised every day
    base = base_corpus()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    first = run_cli("harvest", env=w.env())
    assert first.exit_code == 0, first.output
    assert {q: r[-1] for q, r in rows(first).items()} == {"binarization": "ok", "quantization": "ok", "pruning": "ok"}
    assert len(w.oai.log) == 0  # a fresh database backfills through the query API
    db = open_db(tmp_path / "db" / "papers.db")
    covered = dict(db.execute("select name, covered || ' ' || covered_via from queries").fetchall())
    assert covered["binarization"] == f"{DAY0} api"  # the day arXiv answered (its Date header)
    for d in range(1, 8):
        day = DAY0 + timedelta(days=d)
        w.move_to(day)
        w.publish(*day_of_news(d, base))
        oai_before, api_before = len(w.oai.log), len(w.api.log)
        result = run_cli("harvest", env=w.env())
        assert result.exit_code == 0, result.output
        table = rows(result)
        assert all(r[-1] == "ok" for r in table.values()), result.output
        assert "pruning: not confined to arXiv categories" in result.stderr  # said once, each run
        today_log = w.oai.log[oai_before:]
        # one listing per set, whatever the number of queries; one request per `limit` records
        firsts = [e["args"] for e in today_log if "resumptionToken" not in e["args"]]
        assert sorted(a["set"] for a in firsts) == ["cs", "stat"], d
        for spec in ("cs", "stat"):
            listing = [e for e in today_log if e["args"].get("set") == spec or spec in e["args"].get("resumptionToken", "")]
            listed = sum(e["records"] for e in listing)
            assert len(listing) == max(1, math.ceil(listed / 4)), (d, spec, listing)
        assert len(w.api.log) - api_before == 1  # only the query that cannot be confined
        # the OAI queries' requests column is the shared listing's
        assert table["binarization"][0] == table["quantization"][0] == str(len(today_log))
        for query in CONFIG.queries:
            assert linked(db, query.name) == arxivs_answer(w, query), (d, query.name)
    revised_paper = db["papers"].get(base[3]["id"])  # a binary paper in cs.CV, revised on day 3
    assert revised_paper["title"].endswith("(revised)") and revised_paper["version"] == 1  # OAI-PMH gives no version number
    assert db["papers"].get("2406.00199")  # the late one, through the overlap
    assert db["papers"].get(base[13]["id"])["journal_ref"] == "Journal of Tests 2024"  # touched on day 3
    assert not db.execute("select count(*) from oai_listings").fetchone()[0]


def test_the_cost_of_a_daily_run_does_not_grow_with_the_number_of_queries(run_cli, tmp_path, world):
    many = QUERIES + "".join(
        f"  - name: copy-{i}\n    source: arxiv\n    query: '(ti:binarized OR ti:quantization) AND cat:cs.{c}'\n"
        for i, c in enumerate(["LG", "CV", "AI", "CL"])
    )
    counts = {}
    for label, text in (("three", QUERIES), ("seven", many)):
        w = world(limit=4)
        work = tmp_path / label
        work.mkdir()
        write_queries(work / "queries.yaml", text)
        db_path = str(work / "papers.db")
        assert run_cli("harvest", "--db", db_path, "--queries", str(work / "queries.yaml"), env=w.env()).exit_code == 0
        per_day = []
        for d in range(1, 4):
            w.move_to(DAY0 + timedelta(days=d))
            w.publish(*day_of_news(d, base_corpus()))
            before = len(w.oai.log)
            result = run_cli("harvest", "--db", db_path, "--queries", str(work / "queries.yaml"), env=w.env())
            assert result.exit_code == 0, result.output
            per_day.append(len(w.oai.log) - before)
        counts[label] = per_day
    assert counts["three"] == counts["seven"] and all(n >= 2 for n in counts["three"])


def harvested(run_cli, tmp_path, w, *args):
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    return run_cli("harvest", *args, env=w.env())


def test_no_records_match_is_nothing_new_and_a_success(run_cli, tmp_path, world):
    w = world(base_corpus()[:20])  # nothing modified after May 20
    result = harvested(run_cli, tmp_path, w)  # the first window starts May 27: nothing in it
    assert result.exit_code == 0, result.output
    assert [(e["args"]["set"], e["records"]) for e in w.oai.log] == [("cs", 0), ("stat", 0)]
    assert {q: r[-1] for q, r in rows(result).items()} == {"binarization": "ok", "quantization": "ok", "pruning": "ok"}
    db = open_db(tmp_path / "db" / "papers.db")
    # complete up to the server's responseDate, so the next window starts a day before it
    day1, day2 = DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)
    assert db.execute("select covered, covered_via from queries where name = 'binarization'").fetchone() == (
        str(day1),
        "oai",
    )
    w.move_to(day2)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    assert {e["args"].get("from") for e in w.oai.log[2:]} == {str(DAY0)}


def test_the_window_comes_from_the_servers_dates_not_this_machines_clock(run_cli, tmp_path, world):
    w = world([*base_corpus(), record(301, "quant", date(2024, 5, 30), "stat.ML")])  # June 2024, whatever today is
    harvested(run_cli, tmp_path, w)
    assert {e["args"].get("from") for e in w.oai.log} == {str(DAY0 - timedelta(days=7))}  # a week before the backfill's day
    w.publish(record(300, "binary", DAY0 + timedelta(days=1), "cs.LG"))
    w.move_to(DAY0 + timedelta(days=2))
    before = len(w.oai.log)
    run_cli("harvest", env=w.env())
    # yesterday both sets listed records up to May 30 (the newest datestamps): a day before that
    assert {e["args"].get("from") for e in w.oai.log[before:]} == {"2024-05-29"}
    w.move_to(DAY0 + timedelta(days=3))
    before = len(w.oai.log)
    run_cli("harvest", env=w.env())
    starts = {e["args"]["set"]: e["args"].get("from") for e in w.oai.log[before:]}
    assert starts == {"cs": "2024-05-29", "stat": "2024-05-29"}  # quantization lives in both: the older one counts
    db = open_db(tmp_path / "db" / "papers.db")
    assert db.execute("select covered from queries where name = 'binarization'").fetchone()[0] == str(
        DAY0 + timedelta(days=1)
    )


def test_a_server_clock_ahead_of_this_machines_loses_no_paper(run_cli, tmp_path, world):
    """arXiv a month ahead of this machine's clock: the backfill of a query with a `since`
    (a submission-date window) and the daily OAI-PMH match keep arXiv's newest papers."""
    ahead = date.today() + timedelta(days=30)
    w = world([*base_corpus(), record(401, "quant", ahead, "cs.LG")], today=ahead)
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    assert "2406.00401" in linked(db, "quantization")  # through the query API
    w.move_to(ahead + timedelta(days=1))
    w.publish(record(402, "quant", ahead + timedelta(days=1), "cs.LG"))
    result = run_cli("harvest", env=w.env())
    assert result.exit_code == 0, result.output
    assert rows(result)["quantization"][1] == "1"  # new
    assert "2406.00402" in linked(db, "quantization")  # through OAI-PMH
    assert db.execute("select covered from queries where name = 'quantization'").fetchone()[0] == str(
        ahead + timedelta(days=1)
    )
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)


def test_an_expired_resumption_token_lists_the_window_again_without_duplicates(run_cli, tmp_path, world):
    w = world(limit=3, expire=lambda n: n == 2)  # the second request, the first with a token
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    before = set(stored_ids(db))
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(*day_of_news(1, base_corpus()))
    result = run_cli("harvest", env=w.env())
    assert result.exit_code == 0, result.output
    expired = w.oai.log[1]
    assert "resumptionToken" in expired["args"] and expired["records"] == 0
    # the window again, from the newest day the first page listed (May 28, 29, 30)
    assert w.oai.log[2]["args"] == {**w.oai.log[0]["args"], "from": "2024-05-30"}
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)
    assert stored_ids(db) == arxivs_answers(w)  # nothing missing, nothing a query does not find
    # the records listed twice are counted once: each query's new papers are those it links that were not stored
    new = {q: r[1] for q, r in rows(result).items()}
    assert new == {q.name: str(len(set(linked(db, q.name)) - before)) for q in CONFIG.queries}
    assert int(new["binarization"]) > 0


def test_flow_control_503_is_waited_out_and_a_truncated_page_fetched_again(run_cli, tmp_path, world):
    w = world(limit=3, flow_control=lambda n: n == 1, truncate=lambda n: n == 3)
    result = harvested(run_cli, tmp_path, w)
    assert result.exit_code == 0, result.output
    assert [e["status"] for e in w.oai.log[:2]] == [503, 200]
    assert w.oai.log[1]["args"] == w.oai.log[0]["args"]  # the same request after Retry-After
    assert w.oai.log[3]["args"] == w.oai.log[2]["args"]  # the truncated page again
    db = open_db(tmp_path / "db" / "papers.db")
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)


def test_a_set_that_fails_fails_its_queries_only(run_cli, tmp_path, world):
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    w.oai.faults["truncate"] = lambda n: w.oai.log[n - 1]["args"].get("set") == "stat"
    result = run_cli("harvest", env=w.env())
    assert result.exit_code == 1
    assert {q: r[-1] for q, r in rows(result).items()} == {"binarization": "ok", "quantization": "failed", "pruning": "ok"}
    assert "quantization: set stat: arXiv kept sending a truncated page" in result.stderr


def test_keep_all_stores_every_record_of_the_sets(run_cli, tmp_path, world):
    w = world()
    result = harvested(run_cli, tmp_path, w, "--keep-all")
    assert result.exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    listed = {r["id"] for r in base_corpus() if date.fromisoformat(r["update_date"]) >= DAY0 - timedelta(days=7)}
    assert listed <= {r[0] for r in db.execute("select id from papers")}


def test_keep_all_after_a_stopped_run_lists_the_window_again(run_cli, tmp_path, world):
    """A listing stopped half-way by a run that kept only matches is not resumed by a
    --keep-all run: the pages already listed would never be kept whole."""
    w = world(limit=2)
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    news = [record(140 + i, "noise", DAY0 + timedelta(days=1), "cs.LG") for i in range(6)]
    w.publish(*news)
    start = len(w.oai.log)
    w.oai.faults["truncate"] = lambda n: n > start + 1  # the cs listing's first page only
    assert run_cli("harvest", env=w.env()).exit_code == 1
    del w.oai.faults["truncate"]
    assert run_cli("harvest", "--keep-all", env=w.env()).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    listed = {r["id"] for r in base_corpus() if date.fromisoformat(r["update_date"]) >= DAY0 - timedelta(days=7)}
    assert listed | {r["id"] for r in news} <= set(stored_ids(db))


def test_a_listing_is_not_resumed_for_an_edited_query(run_cli, tmp_path, world):
    """A listing stopped half-way, then binarization's text edited: the pages listed were
    matched against the old text, so the next run lists the window again for it."""
    w = world(limit=2)
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(*(record(140 + i, "noise", DAY0 + timedelta(days=1), "cs.LG") for i in range(6)))
    start = len(w.oai.log)
    w.oai.faults["truncate"] = lambda n: n > start + 1  # the cs listing's first page only
    assert run_cli("harvest", env=w.env()).exit_code == 1
    del w.oai.faults["truncate"]
    edited = QUERIES.replace("OR ti:binarized)", "OR ti:binarized OR ti:quantization)").replace(
        "(cat:cs.LG OR cat:cs.CV)'", "(cat:cs.LG OR cat:cs.CV)'\n    since: 2024-05-28"
    )
    write_queries(tmp_path / "queries.yaml", edited)
    result = run_cli("harvest", "--via", "oai", "--query", "binarization", env=w.env())
    assert result.exit_code == 0, result.output
    db = open_db(tmp_path / "db" / "papers.db")
    query = parse_config(edited).queries[0]  # what it linked before the edit stays linked
    assert set(arxivs_answer(w, query)) <= set(linked(db, "binarization"))


def test_a_held_paper_keeps_its_exact_dates_and_version(run_cli, tmp_path, world):
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    paper = base_corpus()[27]  # May 28, a binary paper in math.OC and cs.LG
    before = db["papers"].get(paper["id"])
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(touched(paper, DAY0 + timedelta(days=1)))
    result = run_cli("harvest", env=w.env())
    assert rows(result)["binarization"][1:3] == ["0", "1"]  # new, updated
    after = db["papers"].get(paper["id"])
    assert (after["published"], after["version"]) == (before["published"], before["version"])
    assert after["published"].endswith("T10:00:00Z") and after["journal_ref"] == "Journal of Tests 2024"


def test_a_held_paper_keeps_its_submission_when_created_names_another_day(run_cli, tmp_path, world):
    """arXiv's OAI-PMH code fills `<created>` from the current version's row: a revised
    paper's record may name the revision's day. A stored first submission never moves."""
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    paper = base_corpus()[27]
    before = db["papers"].get(paper["id"])
    day = DAY0 + timedelta(days=1)
    w.move_to(day)
    w.publish({**revised(paper, day), "versions": [{"version": "v2", "created": stamp(day)}]})  # <created> = v2's day
    assert run_cli("harvest", env=w.env()).exit_code == 0
    after = db["papers"].get(paper["id"])
    assert (after["published"], after["year"]) == (before["published"], before["year"])
    assert after["updated"][:10] == day.isoformat() and after["title"].endswith("(revised)")


def test_via_chooses_the_channel(run_cli, tmp_path, world):
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    forced = run_cli("harvest", "--via", "oai", env=w.env())  # a fresh database, through OAI-PMH only
    assert forced.exit_code == 1
    assert {q: r[-1] for q, r in rows(forced).items()} == {"binarization": "ok", "quantization": "ok", "pruning": "failed"}
    assert "pruning: not confined to arXiv categories" in forced.stderr and len(w.api.log) == 0
    assert "OAI-PMH cannot serve it" in forced.stderr and "keeps using" not in forced.stderr  # it does not
    assert w.oai.log[0]["args"].get("from") is None  # binarization has no since: all of arXiv's datestamps
    db = open_db(tmp_path / "db" / "papers.db")
    for query in CONFIG.queries[:2]:
        assert linked(db, query.name) == arxivs_answer(w, query)
    w.move_to(DAY0 + timedelta(days=1))
    before, api_before = len(w.oai.log), len(w.api.log)
    api = run_cli("harvest", "--via", "api", env=w.env())
    assert api.exit_code == 0 and len(w.oai.log) == before and len(w.api.log) - api_before == 3
    full = run_cli("harvest", "--full", "--query", "binarization", env=w.env())
    assert full.exit_code == 0 and len(w.oai.log) == before  # --full re-reads through the query API


def test_an_unfinished_query_api_run_finishes_there_before_oai_takes_over(run_cli, tmp_path, world):
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0  # backfilled: OAI-PMH could take the daily run
    answer = w.api.answer
    w.api.answer = lambda qs: (429, b"Rate exceeded.", {"Retry-After": "0"}) if qs.get("start") != "0" else answer(qs)
    env = {**w.env(), "PAPERTRACK_ARXIV_PAGE_SIZE": "2"}
    throttled = run_cli("harvest", "--full", "--query", "binarization", env=env)  # a full re-read, cut short
    assert throttled.exit_code == 75, throttled.output
    db = open_db(tmp_path / "db" / "papers.db")
    progress = json.loads(db.execute("select progress from queries where name = 'binarization'").fetchone()[0])
    assert progress["start"] == 2 and progress["full"]
    w.api.answer = answer
    w.move_to(DAY0 + timedelta(days=1))
    forced = run_cli("harvest", "--via", "oai", "--query", "binarization", env=env)
    assert forced.exit_code == 1 and len(w.oai.log) == 0
    assert "binarization: an unfinished run through arXiv's query API finishes there first" in forced.stderr
    api_before = len(w.api.log)
    resumed = run_cli("harvest", "--query", "binarization", env=env)
    assert resumed.exit_code == 0, resumed.output
    assert len(w.oai.log) == 0  # not taken over by OAI-PMH, which would have dropped the re-read
    assert w.api.log.requests[api_before]["args"]["start"] == "2"  # resumed where it stopped
    assert db.execute("select progress from queries where name = 'binarization'").fetchone()[0] is None
    assert linked(db, "binarization") == arxivs_answer(w, CONFIG.queries[0])
    daily = run_cli("harvest", "--query", "binarization", env=env)
    assert daily.exit_code == 0 and len(w.oai.log) == 1  # now OAI-PMH takes the daily run (set cs)


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--full", "--via", "oai"], "--full re-reads through arXiv's query API: it does not go with --via oai"),
        (["--keep-all", "--via", "api"], "--keep-all keeps what OAI-PMH lists: it does not go with --via api"),
        (["--keep-all", "--full"], "--keep-all keeps what OAI-PMH lists: it does not go with --full"),
    ],
)
def test_flags_that_cannot_go_together_are_a_usage_error_before_anything(run_cli, tmp_path, world, flags, why):
    w = world()
    dblp = SparqlStandIn([])
    try:
        venue = "  - name: cvpr2020\n    source: dblp\n    query: 'toc:db/conf/cvpr/cvpr2020.bht:'\n"
        write_queries(tmp_path / "queries.yaml", QUERIES + venue)
        result = run_cli("harvest", *flags, env={**w.env(), "PAPERTRACK_DBLP_SPARQL_URL": dblp.url})
        assert result.exit_code == 2
        assert result.stderr == f"Error: {why}\n"
        assert (len(w.api.log), len(w.oai.log), len(dblp.log)) == (0, 0, 0)
        assert not (tmp_path / "db" / "papers.db").exists()  # no run row, no database
    finally:
        dblp.close()


def test_harvest_runs_and_status_say_what_ran(run_cli, tmp_path, world):
    w = world()
    assert harvested(run_cli, tmp_path, w).exit_code == 0
    db = open_db(tmp_path / "db" / "papers.db")
    assert db.execute("select query, via, status from harvest_runs order by id").fetchall()[3:] == [
        ("binarization", "oai", "ok"),
        ("quantization", "oai", "ok"),
        ("pruning", "api", "ok"),
    ]
    status = run_cli("status")
    assert [line.split()[4] for line in status.stdout.splitlines()[2:]] == ["ok", "ok", "ok"]
    assert json.loads(db.execute("select tags from queries where name = 'quantization'").fetchone()[0]) == ["quantization"]


def test_killed_between_pages_the_next_run_resumes_at_its_token(tmp_path, world):
    """A real SIGKILL between two pages of a listing: the rerun continues with the stored
    resumption token, and every query ends with arXiv's answer, nothing lost or doubled."""
    w = world(limit=2)  # the day's cs listing takes three pages
    write_queries(tmp_path / "queries.yaml", QUERIES)
    env = {**w.env(), "PAPERTRACK_ARXIV_DELAY": "0"}
    assert start_papertrack("harvest", cwd=tmp_path, env=env).wait(timeout=60) == 0
    db = open_db(tmp_path / "db" / "papers.db")
    before = set(stored_ids(db))
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(*day_of_news(1, base_corpus()))
    proc = start_papertrack("harvest", cwd=tmp_path, env={**env, "PAPERTRACK_ARXIV_DELAY": "0.8"})
    wait_until(lambda: len(w.oai.log) >= 2, what="the second page")
    time.sleep(0.4)  # the second page is stored; the third is not asked for yet
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [(token, pages)] = db.execute("select token, pages from oai_listings").fetchall()
    assert token and pages == 2
    done = start_papertrack("harvest", cwd=tmp_path, env=env)
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert w.oai.log[2]["args"] == {"verb": "ListRecords", "resumptionToken": token}  # resumed, not started over
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)
    assert stored_ids(db) == arxivs_answers(w)
    # what the killed run stored is counted once: by it, not again by the run that resumed
    counted = dict(
        db.execute(
            "select query, sum(new) from harvest_runs r where id > (select min(id) from harvest_runs where query = r.query) "
            "group by query"
        ).fetchall()
    )
    assert counted == {q.name: len(set(linked(db, q.name)) - before) for q in CONFIG.queries}
    assert counted["binarization"] > 0
    assert [r[0] for r in db.execute("select status from harvest_runs where query = 'binarization' order by id")] == [
        "ok",
        "interrupted",
        "ok",
    ]


def test_a_listing_resumed_for_fewer_queries_is_not_resumed_for_the_others(run_cli, tmp_path, world):
    """A listing stopped half-way, resumed by `--query binarization` and stopped again: the
    pages of that run were matched for binarization alone, so the next run of every query
    lists the window again for quantization instead of resuming (which would skip them)."""
    w = world(limit=2)
    write_queries(tmp_path / "queries.yaml", QUERIES)
    assert run_cli("harvest", env=w.env()).exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(*(record(140 + i, ("quant", "noise")[i % 2], DAY0 + timedelta(days=1), "cs.LG") for i in range(6)))
    start = len(w.oai.log)
    w.oai.faults["truncate"] = lambda n: n > start + 1  # the cs listing's first page only
    assert run_cli("harvest", env=w.env()).exit_code == 1
    start = len(w.oai.log)
    w.oai.faults["truncate"] = lambda n: n > start + 2  # two more pages, matched for binarization alone
    assert run_cli("harvest", "--query", "binarization", env=w.env()).exit_code == 1
    del w.oai.faults["truncate"]
    result = run_cli("harvest", env=w.env())
    assert result.exit_code == 0, result.output
    db = open_db(tmp_path / "db" / "papers.db")
    assert {"2406.00140", "2406.00142"} <= set(linked(db, "quantization"))  # on the pages of the second run
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)


def test_a_snapshot_backfill_goes_on_through_oai(run_cli, tmp_path, world):
    w = world()
    write_queries(tmp_path / "queries.yaml", QUERIES)
    (tmp_path / "snap.jsonl").write_text("".join(json.dumps(r) + "\n" for r in base_corpus()))
    assert run_cli("import-snapshot", "snap.jsonl").exit_code == 0
    assert run_cli("match").exit_code == 0
    w.move_to(DAY0 + timedelta(days=1))
    w.publish(*day_of_news(1, base_corpus()))
    result = run_cli("harvest", env=w.env())
    assert result.exit_code == 0, result.output
    assert {e["args"].get("from") for e in w.oai.log} == {"2024-05-23"}  # a week before the snapshot's newest day
    assert [e["args"]["search_query"] for e in w.api.log.requests] == ["ti:pruning"]  # only what cannot be confined
    db = open_db(tmp_path / "db" / "papers.db")
    for query in CONFIG.queries:
        assert linked(db, query.name) == arxivs_answer(w, query)
