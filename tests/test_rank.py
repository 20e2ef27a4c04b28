"""Ranking end to end: CLI -> SQLite -> scores, candidates, digests, related papers.

The corpus (tests/rank_corpus.py) has six topics; a researcher's library holds a dozen
LLM-quantization papers. A profile must put its topic first among papers it has not seen,
whatever the origin of its positives.
"""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from papertrack.cli import cli
from papertrack.store.schema import open_db
from tests import rank_corpus as corpus
from tests.helpers import CLOSED_ARXIV, FIXTURES

LIBRARY = corpus.library()
PER_LATER = 5


def invoke(*args: str, cwd: Path | None = None):
    env = {"PAPERTRACK_ARXIV_URL": CLOSED_ARXIV, "PAPERTRACK_ARXIV_DELAY": "0"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The corpus imported (taxonomy and query tags) with the library tagged my-library,
    not yet ranked."""
    root = tmp_path_factory.mktemp("rank")
    db, queries = str(root / "papers.db"), str(root / "queries.yaml")
    Path(queries).write_text(corpus.QUERIES)
    snap = corpus.snapshot(root / "snap.jsonl", corpus.papers())
    for args in (
        ("import-snapshot", str(snap), "--db", db, "--queries", queries),
        ("match", "--db", db, "--queries", queries),
        ("import-bibtex", str(corpus.library_bib(root / "lib.bib", LIBRARY)), "--db", db, "--tag", "my-library"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    return Path(db)


@pytest.fixture
def work(template, tmp_path, run_cli):
    """A copy of the template in tmp_path (db/papers.db, queries.yaml): `work(*args)` runs the CLI there."""
    (tmp_path / "db").mkdir()
    shutil.copy(template, tmp_path / "db" / "papers.db")
    (tmp_path / "queries.yaml").write_text(corpus.QUERIES)
    return run_cli


def db_of(tmp_path: Path):
    return open_db(tmp_path / "db" / "papers.db")


def candidates(work, *args: str) -> list[dict]:
    result = work("candidates", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def later(n: int = PER_LATER) -> list:
    """Papers of July, none of them seen by any fit."""
    return [corpus.paper(topic, k, month="2024-07") for topic in corpus.TOPICS for k in range(100, 100 + n)]


# ---------------------------------------------------------------- profiles


def test_a_library_profile_puts_its_topic_first(work, tmp_path):
    result = work("rank", "--like", "my-library")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split()[:3] == ["my-library", "12", "300"]
    assert "words for related papers:" in result.output
    db = db_of(tmp_path)
    assert db.execute("select count(*) from scores where profile = 'my-library'").fetchone()[0] == 300
    unseen = [c for c in candidates(work, "--like", "my-library", "--limit", "40") if c["id"] not in LIBRARY]
    assert [corpus.topic_of(c["id"]) for c in unseen[:15]] == ["llm-quant"] * 15
    assert [c["score"] for c in unseen] == sorted((c["score"] for c in unseen), reverse=True)
    for c in unseen[:15]:
        assert c["why"] and len(c["why"]) <= 5
        assert "tag my-library" not in c["why"]  # the profile's own tag is never a reason
    assert any(w in unseen[0]["why"] for w in ("quantization", "quantized", "kv cache", "llm", "tag quantization"))


@pytest.mark.parametrize(
    "origin, setup, profile, topic",
    [
        (
            "manual tag",
            [("tag", corpus.paper("robotics", k).id, "robots-i-like") for k in range(4)],
            "robots-i-like",
            "robotics",
        ),
        (
            "picks",
            [("pick", corpus.paper("dialogue", k).id, "--issue", "2024-02-01") for k in range(4)],
            "picks",
            "dialogue",
        ),
    ],
)
def test_profiles_from_each_origin(work, tmp_path, origin, setup, profile, topic):
    """Four positives are enough for the papers they have not seen to come first."""
    for args in setup:
        assert work(*args).exit_code == 0
    result = work("rank", "--like", profile)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split()[:3] == [profile, "4", "300"], origin
    seen = {args[1] for args in setup}
    unseen = [c for c in candidates(work, "--like", profile, "--limit", "30") if c["id"] not in seen][:20]
    assert sum(corpus.topic_of(c["id"]) == topic for c in unseen) >= 18, origin


def test_a_taxonomy_tag_is_a_profile(work, tmp_path):
    origins = {
        r[0]
        for r in db_of(tmp_path).execute(
            "select origin from papers_tags pt join tags t on t.id = pt.tags_id where t.name = 'pruning'"
        )
    }
    assert origins == {"taxonomy"}
    assert work("rank", "--like", "pruning").exit_code == 0
    top = candidates(work, "--like", "pruning", "--limit", "20")
    assert {corpus.topic_of(c["id"]) for c in top} == {"pruning"}
    assert all("tag pruning" not in c["why"] for c in top)


def test_a_query_tag_is_a_profile(work, tmp_path):
    (tmp_path / "queries.yaml").write_text(
        corpus.QUERIES.replace(
            "taxonomy:", "  - {name: graphs, source: arxiv, query: 'ti:graph', tags: [graph-papers]}\ntaxonomy:"
        )
    )
    assert work("match").exit_code == 0
    origins = {
        r[0]
        for r in db_of(tmp_path).execute(
            "select origin from papers_tags pt join tags t on t.id = pt.tags_id where t.name = 'graph-papers'"
        )
    }
    assert origins == {"query"}
    assert work("rank", "--like", "graph-papers").exit_code == 0
    top = candidates(work, "--like", "graph-papers", "--limit", "20")
    assert {corpus.topic_of(c["id"]) for c in top} == {"graphs"}


def test_a_profile_with_too_few_positives_says_so_and_scores_nothing(work, tmp_path):
    for k in range(2):
        work("tag", corpus.paper("vision", k).id, "tiny")
    result = work("rank", "--like", "tiny")
    assert result.exit_code == 0, result.output
    assert "a profile needs at least 3 positives; nothing scored" in result.output
    assert db_of(tmp_path).execute("select count(*) from scores where profile = 'tiny'").fetchone()[0] == 0
    result = work("candidates", "--like", "tiny")
    assert (result.exit_code, result.output) == (2, "Error: profile 'tiny' has not been ranked yet: no model, no scores\n")
    # a profile that shrinks below 3 loses its model and scores
    work("tag", corpus.paper("vision", 2).id, "tiny")
    assert work("rank", "--like", "tiny").exit_code == 0
    assert db_of(tmp_path).execute("select count(*) from scores where profile = 'tiny'").fetchone()[0] == 300
    result = work("rank", "--like", "ml")  # the saved query tags every paper
    assert result.output.splitlines()[2].split()[:3] == ["ml", "300", "0"]
    assert "every paper is a positive: nothing to tell apart; nothing scored" in result.output
    work("untag", corpus.paper("vision", 2).id, "tiny")
    result = work("rank", "--update", "--like", "tiny")
    assert (
        result.output.splitlines()[2].split() == "tiny 2 0 0.0 a profile needs at least 3 positives; nothing scored".split()
    )
    assert db_of(tmp_path).execute("select count(*) from scores where profile = 'tiny'").fetchone()[0] == 0


def test_new_positives_refit_and_unchanged_ones_do_not(work, tmp_path):
    assert work("rank", "--like", "my-library").exit_code == 0
    fitted = (
        db_of(tmp_path)
        .execute("select fitted, positives, positives_digest from rank_models where profile = 'my-library'")
        .fetchone()
    )
    assert fitted[1] == 12
    result = work("rank", "--update", "--like", "my-library")
    assert result.output.splitlines()[2].split()[:3] == ["my-library", "12", "0"]
    assert db_of(tmp_path).execute("select fitted from rank_models").fetchone()[0] == fitted[0]
    newcomer = corpus.paper("llm-quant", 40).id
    before = db_of(tmp_path).execute("select score from scores where papers_id = ?", [newcomer]).fetchone()[0]
    assert work("tag", newcomer, "my-library").exit_code == 0
    result = work("rank", "--update", "--like", "my-library")
    assert result.exit_code == 0, result.output
    row = (
        db_of(tmp_path)
        .execute("select fitted, positives, positives_digest from rank_models where profile = 'my-library'")
        .fetchone()
    )
    papers = db_of(tmp_path).execute("select count(*) from papers").fetchone()[0]
    assert row[1] == 13 and row[2] != fitted[2] and row[0] >= fitted[0]
    assert result.output.splitlines()[2].split()[:3] == ["my-library", "13", str(papers)]  # refitted: every paper scored
    after = db_of(tmp_path).execute("select score from scores where papers_id = ?", [newcomer]).fetchone()[0]
    assert after > before  # now a positive of the refitted model


# ---------------------------------------------------------------- after harvests and imports


def test_a_harvest_scores_its_new_papers_with_the_stored_model(run_cli, replay, tmp_path):
    server = replay(corpus.papers())
    (tmp_path / "queries.yaml").write_text(corpus.QUERIES + "rank: [my-library, picks]\n")
    env = {"PAPERTRACK_ARXIV_URL": server.url}
    result = run_cli("harvest", env=env)
    assert result.exit_code == 0, result.output
    assert "rank my-library: 0 positives; a profile needs at least 3 positives; nothing scored" in result.output
    assert "rank picks: 0 positives;" in result.output
    result = run_cli("import-bibtex", str(corpus.library_bib(tmp_path / "lib.bib", LIBRARY)), "--tag", "my-library", env=env)
    assert result.exit_code == 0, result.output
    assert "rank my-library: fitted on 12 positives, 300 papers scored" in result.output
    fitted = db_of(tmp_path).execute("select fitted from rank_models").fetchone()[0]
    server.set_papers(corpus.papers() + later())
    result = run_cli("harvest", "--via", "api", env=env)
    assert result.exit_code == 0, result.output
    assert "rank my-library: 30 new papers scored" in result.output
    db = db_of(tmp_path)
    assert db.execute("select fitted from rank_models").fetchone()[0] == fitted  # no refit
    assert db.execute("select count(*) from scores where profile = 'my-library'").fetchone()[0] == 330
    july = candidates(run_cli, "--like", "my-library", "--from", "2024-07-01", "--to", "2024-07-31", "--limit", "5")
    assert [corpus.topic_of(c["id"]) for c in july] == ["llm-quant"] * 5


def test_an_import_snapshot_scores_its_new_papers(work, tmp_path):
    assert work("rank", "--like", "my-library").exit_code == 0
    (tmp_path / "queries.yaml").write_text(corpus.QUERIES + "rank: [my-library]\n")
    result = work("import-snapshot", str(corpus.snapshot(tmp_path / "july.jsonl", later())))
    assert result.exit_code == 0, result.output
    assert "rank my-library: 30 new papers scored" in result.output


def test_import_digest_fits_picks(run_cli, replay, tmp_path):
    from tests.test_cli_editorial import PAPERS, QUERIES

    server = replay(PAPERS)
    (tmp_path / "queries.yaml").write_text(QUERIES + "rank: [picks]\n")
    env = {"PAPERTRACK_ARXIV_URL": server.url}
    assert run_cli("harvest", env=env).exit_code == 0
    shutil.copy(FIXTURES / "newsletter" / "2020-03-19.md", tmp_path)
    result = run_cli("import-digest", "2020-03-19.md", env=env)
    assert result.exit_code == 0, result.output
    stored = db_of(tmp_path).execute("select count(*) from papers").fetchone()[0]
    assert f"rank picks: fitted on 3 positives, {stored} papers scored" in result.output


# ---------------------------------------------------------------- candidates and digests


def test_candidates_window_tag_limit_and_json(work):
    assert work("rank", "--like", "my-library").exit_code == 0
    rows = candidates(
        work, "--like", "my-library", "--from", "2024-03-01", "--to", "2024-03-31", "--tag", "pruning", "--limit", "4"
    )
    assert len(rows) == 4
    assert set(rows[0]) == {"id", "title", "published", "venue", "tags", "score", "why", "url"}
    assert all("2024-03-01" <= r["published"][:10] <= "2024-03-31" and "pruning" in r["tags"] for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    table = work("candidates", "--like", "my-library", "--limit", "3")
    lines = table.output.splitlines()
    assert lines[0].split()[:5] == ["score", "id", "submitted", "venue", "title"] and len(lines) == 5


def test_digest_top_holds_the_best_papers_grouped_by_tag(work):
    assert work("rank", "--like", "my-library").exit_code == 0
    result = work(
        "digest", "--from", "2024-04-01", "--to", "2024-06-30", "--like", "my-library", "--top", "6", "--lang", "en"
    )
    assert result.exit_code == 0, result.output
    ids = re.findall(r"^- \[.*\]\(https://arxiv.org/abs/([\d.]+)\)", result.output, re.MULTILINE)
    assert len(ids) == 6 and {corpus.topic_of(i) for i in ids} == {"llm-quant"}
    best = [
        c["id"]
        for c in candidates(work, "--like", "my-library", "--from", "2024-04-01", "--to", "2024-06-30", "--limit", "6")
    ]
    assert set(ids) == set(best)
    assert "6 entries (papers in the window)" in result.output
    # with picks for the issue, the picks are the digest
    work("pick", corpus.paper("graphs", 3).id, "--issue", "2024-07-01")
    result = work("digest", "--issue", "2024-07-01", "--like", "my-library", "--top", "6")
    assert result.output.count("\n- [") + result.output.startswith("- [") == 1
    assert "not ranked for profile 'my-library'" in result.output


# ---------------------------------------------------------------- related papers


def test_related_papers_share_the_topic(work):
    assert work("rank").exit_code == 0  # no profile listed: only the word statistics
    pid = corpus.paper("robotics", 7).id
    result = work("related", f"https://arxiv.org/abs/{pid}v2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 10
    ids = [line.split()[0] for line in lines]
    assert pid not in ids and {corpus.topic_of(i) for i in ids} == {"robotics"}
    scores = [float(line.split()[1]) for line in lines]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    titles = {p.id: p.title for p in corpus.papers()}
    assert all(line.split(None, 2)[2] == titles[line.split()[0]] for line in lines)
    assert len(work("related", pid, "--limit", "3").output.splitlines()) == 3


def test_every_command_s_bad_input_is_one_line_and_exit_2(work, tmp_path):
    cases = [
        (
            ("related", corpus.paper("robotics", 7).id),
            "Error: related papers are computed by papertrack rank: rank the database once\n",
        ),
        (("rank", "--like", "nope"), "Error: no tag 'nope' in the database (a profile is a tag, or picks)\n"),
        (("candidates", "--like", "nope"), "Error: no tag 'nope' in the database (a profile is a tag, or picks)\n"),
        (("candidates", "--like", "pruning"), "Error: profile 'pruning' has not been ranked yet: no model, no scores\n"),
        (
            ("digest", "--from", "2024-01-01", "--to", "2024-01-31", "--like", "nope"),
            "Error: no tag 'nope' in the database (a profile is a tag, or picks)\n",
        ),
        (
            ("digest", "--from", "2024-01-01", "--to", "2024-01-31", "--top", "3"),
            "Error: --top needs --like TAG: the profile that orders the papers\n",
        ),
        (
            ("candidates", "--like", "my-library", "--from", "2024-13-01"),
            "Error: Invalid value for '--from': '2024-13-01' is not a date (YYYY-MM-DD)\n",
        ),
    ]
    for args, message in cases:
        result = work(*args)
        assert (result.exit_code, result.output) == (2, message), args
    assert work("rank").exit_code == 0
    result = work("related", "1234.56789")
    assert (result.exit_code, result.output) == (2, "Error: no paper '1234.56789' in the database\n")
    result = work("related", "x", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code == 2 and result.output.startswith("Error: no database at ")
    (tmp_path / "queries.yaml").write_text(corpus.QUERIES + "rank: {my-library: 1}\n")
    result = work("rank")
    assert result.exit_code == 2
    assert result.output == "Error: queries.yaml:9: rank must be a list of profiles (tag names, or picks)\n"


def test_rank_of_a_database_without_papers_scores_nothing(run_cli, tmp_path):
    open_db(tmp_path / "empty.db").close()  # what a first harvest that failed leaves
    result = run_cli("rank", "--db", "empty.db")
    assert result.exit_code == 0, result.output
    result = run_cli("rank", "--db", "empty.db", "--like", "picks")
    assert result.exit_code == 0 and "a profile needs at least 3 positives" in result.output


# ---------------------------------------------------------------- the browse page: sort=like:TAG


def test_the_browse_page_sorts_by_a_profile(work, tmp_path):
    from papertrack.web.serve import datasette_for
    from tests.helpers import CARD, DatasetteClient, walk

    assert work("rank", "--like", "my-library").exit_code == 0
    db = db_of(tmp_path)
    best = [  # ties (papers with the same features) by key, as the page pages them
        r[0]
        for r in db.execute(
            "select s.papers_id from scores s join papers p on p.id = s.papers_id where s.profile = 'my-library' "
            "order by s.score desc, p.rowid"
        )
    ]
    tag = db.execute(
        "select t.name from tags t join papers_tags pt on pt.tags_id = t.id group by t.id order by count(*) desc"
    ).fetchone()[0]
    tagged = {
        r[0]
        for r in db.execute(
            "select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = ?", [tag]
        )
    }
    client = DatasetteClient(datasette_for(tmp_path / "db" / "papers.db"))
    try:
        landing = client.get("/browse").text
        assert 'sort=like%3Amy-library">like my-library</a>' in landing  # offered for each ranked profile
        assert '#related">related</a>' in landing  # cards link to their related papers
        shown = walk(client, "/browse?sort=like:my-library")
        assert shown == best  # every scored paper, best first, over every page
        filtered = walk(client, f"/browse?sort=like:my-library&tag={tag}")
        assert filtered == [pid for pid in best if pid in tagged]
        searched = CARD.findall(client.get("/browse?q=quantization&sort=like:my-library").text)
        assert searched and searched == [pid for pid in best if pid in set(searched)]
        for bad, reason in (
            ("like", "needs a profile"),
            ("like:nosuchtag", "no tag 'nosuchtag'"),
            ("like:pruning", "not been ranked"),
        ):
            assert reason in unescape(client.get(f"/browse?sort={bad}", status=400).text)
    finally:
        client.close()
