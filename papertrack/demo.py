"""The offline demo: bundled sample papers served by a local arXiv stand-in, harvested by
the real harvest code into `db/demo.db`."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

from papertrack.config import Config
from papertrack.ingest.harvest import OnPage, RunReport, harvest
from papertrack.models import Paper
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_standin import ReplayArxiv
from papertrack.sources.snapshot import record_to_paper
from papertrack.store.schema import open_db

DEMO_DB = "db/demo.db"
# The papers of the newsletter issue of 2020-03-19 (the seed issue), picked for the demo digest.
DEMO_ISSUE = "2020-03-19"
DEMO_PICKS = ("1903.03129", "2004.03333", "1909.04977", "2002.02925")


def sample_papers() -> list[Paper]:
    """The bundled sample records (arXiv snapshot layout) as `Paper`s."""
    text = resources.files("papertrack").joinpath("samples/papers.jsonl").read_text(encoding="utf-8")
    return [record_to_paper(json.loads(line)) for line in text.splitlines() if line.strip()]


def build_demo(config: Config, db_path: str | Path = DEMO_DB, on_page: OnPage | None = None) -> list[RunReport]:
    """Rebuild the demo database from the samples; returns the harvest reports.

    Only arXiv queries run: the demo has no network, and the stand-in speaks arXiv only.
    """
    path = Path(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_db(path)
    arxiv_only = replace(config, queries=tuple(q for q in config.queries if q.source == "arxiv"))
    with ReplayArxiv(sample_papers()) as replay:
        client = ArxivClient(base_url=replay.url, delay=0)
        reports = harvest(db, arxiv_only, via="api", clients={"arxiv-api": client}, on_page=on_page)
    db.close()
    return reports


def build_demo_digest(db_path: str | Path = DEMO_DB, out: str | Path | None = None) -> Path:
    """Pick the seed issue's papers in the demo database, give one the editor's headline,
    and write that issue's papers section next to the database (db/demo-digest.md)."""
    from papertrack.newsletter.digest import render, select
    from papertrack.newsletter.editorial import Note, pick, set_note

    db = open_db(db_path)
    pick(db, DEMO_PICKS, DEMO_ISSUE)
    set_note(
        db,
        "1909.04977",
        Note(
            headline="CARS：进化算法加权值共享的结构搜索，CIFAR-10 上单卡半天",
            source="papertrack demo",
            source_url="https://arxiv.org/abs/1909.04977",
        ),
    )
    out = Path(out or Path(db_path).with_name("demo-digest.md"))
    out.write_text(render(select(db, issue=DEMO_ISSUE)), encoding="utf-8")
    db.close()
    return out
