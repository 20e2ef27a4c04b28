"""The offline demo runs the real harvest code against the bundled samples."""

from __future__ import annotations

import json

from papertrack.config import load_config
from papertrack.demo import build_demo, sample_papers
from papertrack.store.schema import open_db
from tests.helpers import ROOT

SEED = {"1903.03129", "2004.03333", "1909.04977", "2002.02925"}


def test_samples_are_real_shaped_and_include_the_newsletter_seed():
    papers = sample_papers()
    ids = [p.id for p in papers]
    assert len(ids) == len(set(ids)) >= 40
    assert SEED <= set(ids)
    for p in papers:
        assert p.title and p.authors and p.published and p.categories and p.primary_category == p.categories[0]


def test_demo_builds_a_database_through_the_harvest(tmp_path):
    reports = build_demo(load_config(ROOT / "queries.yaml"), tmp_path / "demo.db")
    assert all(r.status == "ok" for r in reports)
    assert all(r.requests == 1 for r in reports)
    db = open_db(tmp_path / "demo.db")
    assert db["papers"].count >= 40
    tagged = {r[0] for r in db.execute("select distinct papers_id from papers_tags")}
    assert SEED <= tagged
    cars = db["papers"].get("1909.04977")
    assert json.loads(cars["authors"])[0] == "Zhaohui Yang"
    assert cars["code_url"] == "https://github.com/huawei-noah/CARS"


def test_demo_command(run_cli, tmp_path):
    (tmp_path / "queries.yaml").write_text((ROOT / "queries.yaml").read_text())
    result = run_cli("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "binarization" in result.output and (tmp_path / "db" / "demo.db").exists()
