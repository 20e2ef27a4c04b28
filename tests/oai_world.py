"""A small arXiv over several simulated days, served both ways: the OAI-PMH stand-in
(`tests/oai_standin.py`) and the query API stand-in (`sources/arxiv_standin.py`), over the
same records in the snapshot layout, on the same clock. Records are written to fit or miss
the queries of `QUERIES` (and to live in cs, stat or math)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from papertrack.sources.arxiv_standin import ReplayArxiv
from papertrack.sources.snapshot import record_to_paper
from tests.oai_standin import OaiStandIn

DAY0 = date(2024, 6, 3)
QUERIES = """\
queries:
  - name: binarization
    source: arxiv
    query: '(abs:"binary neural network" OR ti:binarized) AND (cat:cs.LG OR cat:cs.CV)'
  - name: quantization
    source: arxiv
    query: 'ti:quantization AND (cat:cs.LG OR cat:stat.ML)'
    since: 2024-05-10
  - name: pruning
    source: arxiv
    query: 'ti:pruning'
"""
TOPICS = {
    "binary": ("Binarized Networks {n}", "We train a binary neural network, variant {n}."),
    "quant": ("Post-Training Quantization {n}", "Low-bit weights for model {n}."),
    "prune": ("Structured Pruning {n}", "We remove channels from network {n}."),
    "noise": ("Graph Matching {n}", "Scene understanding with graphs, take {n}."),
}


def stamp(day: date, hour: int = 10) -> str:
    return datetime.combine(day, time(hour)).strftime("%a, %d %b %Y %H:%M:%S GMT")


def record(n: int, topic: str, day: date, cats: str = "cs.LG", versions: int = 1) -> dict:
    """Paper `2406.000nn` on a topic, first submitted on `day` (later versions a day apart)."""
    title, abstract = TOPICS[topic]
    days = [day + timedelta(days=i) for i in range(versions)]
    return {
        "id": f"2406.{n:05d}",
        "submitter": "Ada Lovelace",
        "authors": f"Ada Lovelace and Author {n}",
        "title": title.format(n=n),
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "categories": cats,
        "abstract": abstract.format(n=n),
        "versions": [{"version": f"v{i + 1}", "created": stamp(d)} for i, d in enumerate(days)],
        "update_date": days[-1].isoformat(),
        "authors_parsed": [["Lovelace", "Ada", ""], ["Author", str(n), ""]],
    }


def revised(rec: dict, day: date) -> dict:
    """A new version of a record, announced on `day`."""
    versions = [*rec["versions"], {"version": f"v{len(rec['versions']) + 1}", "created": stamp(day)}]
    return {**rec, "versions": versions, "update_date": day.isoformat(), "title": rec["title"] + " (revised)"}


def touched(rec: dict, day: date) -> dict:
    """Metadata changed on `day` (a journal reference), no new version."""
    return {**rec, "journal-ref": f"Journal of Tests {day.year}", "update_date": day.isoformat()}


class World:
    """Both stand-ins over `records`, their clock at `today`."""

    def __init__(self, records: list[dict], today: date = DAY0, limit: int = 2000, **faults):
        self.records = {r["id"]: r for r in records}
        self.oai = OaiStandIn([], today, limit=limit, **faults)
        self.api = ReplayArxiv([]).__enter__()
        self.move_to(today)

    def move_to(self, day: date) -> None:
        """Set both clocks to `day`; records dated later do not exist yet."""
        visible = [r for r in self.records.values() if date.fromisoformat(r["update_date"]) <= day]
        self.oai.today = self.api.today = day
        self.oai.set_records(visible)
        self.api.set_papers([record_to_paper(r) for r in visible])

    def publish(self, *records: dict) -> None:
        self.records.update({r["id"]: r for r in records})
        self.move_to(self.oai.today)

    def env(self) -> dict[str, str]:
        return {"PAPERTRACK_ARXIV_URL": self.api.url, "PAPERTRACK_ARXIV_OAI_URL": self.oai.url}

    def close(self) -> None:
        self.oai.close()
        self.api.__exit__(None, None, None)


def base_corpus() -> list[dict]:
    """May 2024: some of every topic, in cs.LG, cs.CV, stat.ML and math.OC."""
    out = []
    for n in range(1, 31):
        topic = ("binary", "quant", "prune", "noise")[n % 4]
        cats = ("cs.LG", "cs.CV cs.LG", "stat.ML", "math.OC cs.LG", "cs.CV")[n % 5]
        out.append(record(n, topic, date(2024, 5, 1) + timedelta(days=n - 1), cats))
    return out
