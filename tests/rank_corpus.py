"""A small corpus of the shape ranking sees on real listings: a few hundred papers on six
topics over six months, one topic (LLM quantization) the profile's. Deterministic.

`papers()` gives `Paper`s (for the arXiv stand-in and `save_papers`), `snapshot()` the same
as arXiv snapshot records (for import-snapshot), `library_bib()` a researcher's .bib.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from papertrack.models import Paper
from tests.helpers import make_paper

TOPICS = {
    "llm-quant": (
        ["cs.CL", "cs.LG"],
        "quantization quantized kv cache low-bit llm llms weights activations outliers int4 post-training "
        "language models inference memory".split(),
    ),
    "pruning": (
        ["cs.LG", "cs.CV"],
        "pruning pruned sparse channels structured magnitude lottery ticket filters sparsity".split(),
    ),
    "graphs": (["cs.LG", "cs.SI"], "graph graphs node message passing molecules edges spectral neighborhood link".split()),
    "robotics": (
        ["cs.RO", "cs.AI"],
        "robot robots manipulation grasping policy locomotion control trajectories legged".split(),
    ),
    "vision": (["cs.CV"], "segmentation detection images backbone object pixels boxes scenes video".split()),
    "dialogue": (
        ["cs.CL", "cs.AI"],
        "dialogue translation summarization question answering conversational retrieval".split(),
    ),
}
GENERIC = "we propose a novel method that improves results on several benchmarks and experiments show strong gains".split()
PER_TOPIC = 50
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
QUERIES = """\
queries:
  - name: everything
    source: arxiv
    query: 'cat:cs.LG OR cat:cs.CL OR cat:cs.CV OR cat:cs.RO'
    tags: [ml]
taxonomy:
  quantization: ['quantiz\\w*']
  pruning: ['prun\\w*']
"""


def topic_of(pid: str) -> str:
    return list(TOPICS)[int(pid.split(".")[1][:1])]


def paper(topic: str, k: int, month: str | None = None, rng: random.Random | None = None) -> Paper:
    """The k-th paper on `topic`: id 24MM.TKKKK (T: the topic's number), so its topic shows in its id."""
    rng = rng or random.Random(f"{topic}-{k}")
    month = month or MONTHS[k % len(MONTHS)]
    categories, words = TOPICS[topic]
    title = " ".join(rng.sample(words, 4) + [rng.choice(GENERIC)]).capitalize()
    abstract = " ".join(rng.choice(words) if rng.random() < 0.55 else rng.choice(GENERIC) for _ in range(45)) + "."
    day = 1 + k % 27
    pid = f"{month[2:4]}{month[5:7]}.{list(TOPICS).index(topic)}{k:04d}"
    return make_paper(
        pid,
        title=f"{title} {k}",
        abstract=abstract.capitalize(),
        authors=[f"Author {topic} {k % 7}", f"Coauthor {k}"],
        published=f"{month}-{day:02d}T10:00:00Z",
        updated=f"{month}-{day:02d}T10:00:00Z",
        primary_category=categories[0],
        categories=list(categories),
    )


def papers(per_topic: int = PER_TOPIC, start: int = 0) -> list[Paper]:
    return [paper(topic, k) for topic in TOPICS for k in range(start, start + per_topic)]


def library(n: int = 12) -> list[str]:
    """A researcher's library: the first n LLM-quantization papers."""
    return [paper("llm-quant", k).id for k in range(n)]


def library_bib(path: Path, ids: list[str]) -> Path:
    entries = [
        f"@misc{{lib{i},\n  title = {{Kept {i}}},\n  eprint = {{{pid}}},\n  archivePrefix = {{arXiv}}\n}}\n"
        for i, pid in enumerate(ids)
    ]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def snapshot(path: Path, items: list[Paper]) -> Path:
    """The papers as arXiv snapshot records (JSON lines)."""
    lines = []
    for p in items:
        day = p.published[:10]
        lines.append(
            json.dumps(
                {
                    "id": p.id,
                    "authors": ", ".join(p.authors),
                    "title": p.title,
                    "abstract": p.abstract,
                    "categories": " ".join(p.categories),
                    "versions": [{"version": "v1", "created": _rfc(day)}],
                    "update_date": day,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rfc(day: str) -> str:
    from datetime import date

    d = date.fromisoformat(day)
    return d.strftime("%a, %d %b %Y 10:00:00 GMT")


def ranked_db(path: Path, profiles: list[str]) -> Path:
    """The corpus saved as a harvest would (query and taxonomy tags), the library tagged
    my-library, then `rank` of `profiles` (which also computes every paper's related papers)."""
    from papertrack.config import parse_config
    from papertrack.enrich.taxonomy import Taxonomy
    from papertrack.rank.profiles import rank
    from papertrack.store.papers import save_papers
    from papertrack.store.runs import sync_queries
    from papertrack.store.schema import open_db, transaction
    from papertrack.store.tags import record_edits

    config = parse_config(QUERIES)
    db = open_db(path)
    ids = sync_queries(db, config.queries)
    with transaction(db):
        save_papers(db, papers(), query_id=ids["everything"], taxonomy=Taxonomy(config.taxonomy))
        record_edits(db, library(), ["my-library"], "add")
    report = rank(db, profiles, [r.tag for r in config.taxonomy], n_jobs=1)
    assert report.related == len(papers()) and all(p.scored == len(papers()) for p in report.profiles)
    db.close()
    return path
