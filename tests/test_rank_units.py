"""Ranking's parts: the stored model, the profile's own tag, reasons, merging, the
related-papers query, the config key, and what Datasette shows."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3

import numpy as np
import pytest
from datasette.utils import tilde_decode, tilde_encode

from papertrack.config import parse_config
from papertrack.errors import ConfigError
from papertrack.rank import related as related_module
from papertrack.rank.features import read_batch
from papertrack.rank.model import ProfileModel, why_label
from papertrack.rank.profiles import update
from papertrack.rank.related import query_terms, words
from papertrack.rank.scores import ranked_ids, scores_for
from papertrack.store.merge import merge_row
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from papertrack.web.serve import datasette_for
from tests import rank_corpus as corpus
from tests.helpers import make_paper

CONFIG = parse_config(corpus.QUERIES)
TOPIC_TAGS = [r.tag for r in CONFIG.taxonomy]


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    """The corpus saved as a harvest would, the library tagged, my-library ranked."""
    return corpus.ranked_db(tmp_path_factory.mktemp("units") / "papers.db", ["my-library"])


def stored_model(db, profile="my-library") -> ProfileModel:
    blob, settings = db.execute("select model, settings from rank_models where profile = ?", [profile]).fetchone()
    return ProfileModel.from_bytes(profile, blob, settings)


def test_the_stored_model_gives_the_stored_scores_and_reasons(ranked):
    db = open_db(ranked)
    model = stored_model(db)
    ids = [corpus.paper(t, 30).id for t in corpus.TOPICS]
    batch = read_batch(db.conn, ids)
    X = model.feat.transform(batch)
    stored = scores_for(db.conn, "my-library", ids)
    assert np.allclose(model.scores(X), [stored[i][0] for i in ids], atol=1e-3)
    assert model.why(X) == [stored[i][1] for i in ids]
    assert json.loads(db.execute("select settings from rank_models").fetchone()[0])["exclude"] == ["my-library"]


def test_the_profile_s_own_tag_changes_nothing(ranked):
    """A paper scores the same with or without the profile's tag (it is never a feature),
    while another tag does change its score."""
    db = open_db(ranked)
    model = stored_model(db)
    batch = read_batch(db.conn, [corpus.paper("vision", 31).id])
    plain = model.scores(model.feat.transform(batch))[0]
    batch.tags[0]["my-library"] = "manual"
    assert model.scores(model.feat.transform(batch))[0] == pytest.approx(plain)
    batch.tags[0]["quantization"] = "taxonomy"
    assert model.scores(model.feat.transform(batch))[0] > plain


def test_positives_are_scored_without_their_tag(ranked):
    """A library paper's stored score is what the model gives it untagged: no leak of the label."""
    db = open_db(ranked)
    model = stored_model(db)
    pid = corpus.library()[0]
    batch = read_batch(db.conn, [pid])
    assert "my-library" in batch.tags[0]
    assert model.scores(model.feat.transform(batch))[0] == pytest.approx(
        scores_for(db.conn, "my-library", [pid])[pid][0], abs=1e-3
    )


@pytest.mark.parametrize(
    "name, label",
    [
        ("kv cache", "kv cache"),
        ("tag:quantization@query,taxonomy", "tag quantization"),
        ("ntags>=2", "number of taxonomy tags"),
        ("cat:cs.CL", "cs.CL"),
        ("primary:cs.CL", "cs.CL"),
        ("venue:NeurIPS", "venue NeurIPS"),
        ("venue_type:conference", "accepted (conference)"),
        ("has_code", "code link"),
    ],
)
def test_reasons_read_as_words(name, label):
    assert why_label(name) == label


def test_update_scores_only_papers_without_a_score(ranked, tmp_path):
    path = tmp_path / "copy.db"
    with sqlite3.connect(ranked) as source, sqlite3.connect(path) as target:
        source.backup(target)  # what the WAL holds too
    db = open_db(path)
    assert update(db, ["my-library"], TOPIC_TAGS).profiles[0].scored == 0
    quant, graphs = corpus.paper("llm-quant", 200, month="2024-08"), corpus.paper("graphs", 200, month="2024-08")
    with transaction(db):
        save_papers(db, [quant, graphs])
    report = update(db, ["my-library"], TOPIC_TAGS).profiles[0]
    assert (report.scored, report.refitted) == (2, False)
    assert ranked_ids(db.conn, "my-library", [graphs.id, "2001.99999", quant.id]) == [quant.id, graphs.id, "2001.99999"]


def test_merging_a_dblp_row_moves_its_scores(db):
    with transaction(db):
        save_papers(db, [make_paper("dblp:conf/x/A20", title="A"), make_paper(1, title="A")])
        db.execute("insert into scores (papers_id, profile, score, why) values ('dblp:conf/x/A20', 'p', 1.5, '[]')")
        assert merge_row(db, "dblp:conf/x/A20", "2001.00001")
    assert db.execute("select papers_id, score from scores").fetchall() == [("2001.00001", 1.5)]


# ---------------------------------------------------------------- related


def test_words_are_the_full_text_index_s_tokens():
    assert words("Déjà-vu: 4-bit KV_cache in LLMs (2024), a b") == ["deja", "vu", "bit", "kv", "cache", "in", "llms"]


def test_common_words_are_matched_in_titles_only_when_the_budget_runs_out(ranked, monkeypatch):
    db = open_db(ranked)
    paper = corpus.paper("robotics", 3)
    anywhere, titles = query_terms(db.conn, paper.title, paper.abstract)
    assert anywhere and not titles  # 300 papers: every telling word fits
    monkeypatch.setattr(related_module, "POSTINGS", 60)
    anywhere, titles = query_terms(db.conn, paper.title, paper.abstract)
    df = dict(db.execute("select term, df from related_terms").fetchall())
    title_df = dict(db.execute("select term, title_df from related_terms").fetchall())
    assert titles and sum(df[t] for t in anywhere) + sum(title_df[t] for t in titles) <= 60


# ---------------------------------------------------------------- config


def test_rank_profiles_in_queries_yaml():
    assert parse_config(corpus.QUERIES + "rank: [my-library, picks, my-library]\n").rank == ("my-library", "picks")
    assert parse_config(corpus.QUERIES + "rank: picks\n").rank == ("picks",)
    assert parse_config(corpus.QUERIES).rank == ()
    with pytest.raises(ConfigError, match=r"queries.yaml:9: rank must be a list of profiles"):
        parse_config(corpus.QUERIES + "rank:\n  - [a]\n")


# ---------------------------------------------------------------- Datasette


def get(ds, path: str):
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return response


def test_the_paper_page_lists_related_papers(ranked):
    ds = datasette_for(ranked)
    pid = corpus.paper("graphs", 5).id
    html = get(ds, f"/papers/papers/{tilde_encode(pid)}").text
    assert '<h2 id="related">Related papers</h2>' in html
    section = html.split('<h2 id="related">Related papers</h2>')[1].split("</ol>")[0]
    linked = [tilde_decode(i) for i in re.findall(r'href="/papers/papers/([^"]+)"', section)]
    assert len(linked) == 10 and pid not in linked
    assert {corpus.topic_of(i) for i in linked} == {"graphs"}


def test_scores_are_browsable_with_labels_and_the_candidates_query(ranked):
    ds = datasette_for(ranked)
    html = get(ds, "/papers/scores?profile=my-library&_sort_desc=score").text
    first = corpus.paper("llm-quant", 0)
    assert f'<a href="/papers/papers/{tilde_encode(first.id)}">{first.title}</a>' in html  # the title labels the id
    rows = get(ds, "/papers/candidates.json?profile=my-library&from=2024-05-01&to=2024-05-31&_shape=array").json()
    assert rows and all("2024-05-01" <= r["published"][:10] <= "2024-05-31" for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert corpus.topic_of(rows[0]["id"]) == "llm-quant" and rows[0]["why"]
    hidden = {t["name"] for t in get(ds, "/papers.json").json()["tables"] if t["hidden"]}
    assert {"rank_models", "related_terms"} <= hidden and "scores" not in hidden
