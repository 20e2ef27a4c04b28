"""Realistic generated corpora for the benchmarks, in arXiv's snapshot layout.

Records are resampled from the real arXiv records in ../shared/data/arxiv/ when present
(new ids, words shuffled within each abstract and title, dates spread over the years),
so that lengths and vocabulary stay realistic; without ../shared they are drawn from
the bundled demo samples the same way.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAPERTRACK_SHARED") or ROOT.parent / "shared")  # as in tests/conftest.py
REAL = [
    SHARED / "data" / "arxiv" / "oai-cs-2015-2016.jsonl",
    SHARED / "data" / "arxiv" / "oai-all-2023-03.jsonl",
]
SAMPLES = ROOT / "papertrack" / "samples" / "papers.jsonl"


def seed_records() -> tuple[list[dict], str]:
    """The real records to resample, and where they came from."""
    paths = [p for p in REAL if p.exists()] or [SAMPLES]
    records = []
    for path in paths:
        with path.open(encoding="utf-8") as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records, ", ".join(p.name for p in paths)


def _shuffled(text: str, rng: random.Random) -> str:
    words = (text or "").split()
    rng.shuffle(words)
    return " ".join(words)


def generate(n: int, seed: int = 7, start: datetime = datetime(2007, 4, 1)) -> Iterator[dict]:
    """`n` perturbed records with unique new-style ids, v1 dates increasing with the id."""
    records, _ = seed_records()
    rng = random.Random(seed)
    span = (datetime(2026, 10, 1) - start).total_seconds()
    per_month: dict[str, int] = {}
    for i in range(n):
        base = records[rng.randrange(len(records))]
        created = start + timedelta(seconds=span * i / max(n, 1))
        month = created.strftime("%y%m")
        per_month[month] = per_month.get(month, 0) + 1
        dates = [created]
        if rng.random() < 0.3:
            dates.append(created + timedelta(days=rng.randint(1, 400)))
        record = dict(base)
        record.update(
            id=f"{month}.{per_month[month]:05d}",
            title=_shuffled(base.get("title", ""), rng),
            abstract=_shuffled(base.get("abstract", ""), rng),
            versions=[
                {"version": f"v{k}", "created": d.strftime("%a, %d %b %Y %H:%M:%S GMT")} for k, d in enumerate(dates, 1)
            ],
            update_date=dates[-1].strftime("%Y-%m-%d"),
        )
        yield record


def unique_ids(n: int) -> list[str]:
    """Ids as `generate` assigns them, checked for uniqueness."""
    ids = [r["id"] for r in generate(n)]
    assert len(set(ids)) == n, "generated ids collide"
    return ids
