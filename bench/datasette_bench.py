"""Datasette benchmark: latency of the publication's heaviest pages on a large database.

    python bench/datasette_bench.py [--papers 100000] [--clients 8] [--requests 25] [--runs 3] [--shared DIR]

Builds (once, cached in bench/out/) a database of N papers resampled from the real arXiv
records (bench/corpus.py), stored by `store.save_papers` with tags from 8 saved queries,
then runs `papertrack serve` on 127.0.0.1 in its own process and times, with 1 client and
with `--clients` concurrent clients (threads, one keep-alive connection each):

  * search: the papers table HTML for a full-text search (configured facets included);
  * facets: the papers table HTML with no filter (sort, count, 4 facets over all N rows);
  * faceted: the same with a tag (`_through`) and a category selected.

Prints p50 and p95 per scenario, the median over `--runs` runs (the machine has 2 cores
shared with other work: single runs are noisy), and the 8-client/1-client ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

OUT = Path(__file__).resolve().parent / "out"
TAGS = [
    "binarization",
    "quantization",
    "pruning",
    "distillation",
    "nas",
    "bert-compression",
    "sparse-training",
    "efficient-architectures",
]
TERMS = [
    "quantization",
    "pruning",
    "distillation",
    "transformer",
    "binary",
    "sparse",
    "mobile",
    "attention",
    "compression",
    "latency",
    "graph neural",
    "reinforcement",
]


def build(path: Path, n: int, **spread) -> None:
    """N papers through the real store code, each found by one or two saved queries
    (`spread`: `corpus.generate`'s `start`, the first paper's date)."""
    from papertrack.config import parse_config
    from papertrack.sources.snapshot import record_to_paper
    from papertrack.store.papers import save_papers
    from papertrack.store.runs import sync_queries
    from papertrack.store.schema import open_db, transaction

    queries = parse_config(
        "queries:\n"
        + "".join(f"  - name: {t}\n    source: arxiv\n    query: 'all:{t.split('-')[0]}'\n    tags: [{t}]\n" for t in TAGS)
    )
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = open_db(tmp)
    ids = sync_queries(db, queries.queries)
    rng = random.Random(3)
    batch: list = []
    started = time.perf_counter()

    def flush() -> None:
        by_query: dict[str, list] = {}
        for paper in batch:
            for tag in rng.sample(TAGS, rng.choice((1, 1, 2))):
                by_query.setdefault(tag, []).append(paper)
        with transaction(db):
            for tag, papers in by_query.items():
                save_papers(db, papers, query_id=ids[tag])
        batch.clear()

    for i, record in enumerate(corpus.generate(n, **spread), 1):
        batch.append(record_to_paper(record))
        if len(batch) == 2000:
            flush()
            print(f"\r  building: {i:,} papers, {time.perf_counter() - started:.0f} s", end="", file=sys.stderr)
    if batch:
        flush()
    db.execute("analyze")
    db.close()
    tmp.rename(path)
    print(file=sys.stderr)


class Serve:
    """`papertrack serve` in its own process."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "papertrack", "serve", "--db", str(db), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if "Serving" not in line:
            raise SystemExit(f"serve failed: {line}{self.proc.stdout.read()}")  # type: ignore[union-attr]
        url = urllib.parse.urlsplit(line.split(" at ")[1].split()[0])
        self.host, self.port, self.db = url.hostname, url.port, url.path.split("/")[1]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def scenarios(server: Serve, tag_ids: dict[str, int]) -> dict[str, callable]:
    base = f"/{server.db}/papers"

    def through(tag: str) -> str:
        return urllib.parse.quote(json.dumps({"table": "papers_tags", "column": "tags_id", "value": str(tag_ids[tag])}))

    return {
        "search": lambda rng: f"{base}?_search={urllib.parse.quote(rng.choice(TERMS))}",
        "facets": lambda rng: base,
        "faceted": lambda rng: (
            f"{base}?_through={through(rng.choice(TAGS))}&primary_category={rng.choice(['cs.LG', 'cs.CV'])}"
        ),
    }


def load(server: Serve, make_path, clients: int, per_client: int) -> tuple[list[float], list[str]]:
    """Latencies (ms) of clients x per_client GETs; problems seen (non-200, timed-out facets)."""
    latencies: list[float] = []
    problems: list[str] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        for _ in range(per_client):
            path = make_path(rng)
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or b"facets-timed-out" in body:
                problems.append(f"{path}: {response.status}{' facets timed out' if b'facets-timed-out' in body else ''}")
        conn.close()

    threads = [threading.Thread(target=client, args=(s,)) for s in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, problems


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=25, help="requests per client per run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shared", type=Path, help="the shared data directory, when not ../shared (worktrees)")
    args = ap.parse_args()
    if args.shared:
        corpus.REAL = [args.shared / "data" / "arxiv" / p.name for p in corpus.REAL]

    OUT.mkdir(exist_ok=True)
    source = corpus.seed_records()[1]
    db = OUT / f"datasette-{args.papers}-{'real' if 'oai' in source else 'samples'}.db"
    print(f"corpus: {args.papers:,} records resampled from {source}")
    if not db.exists():
        build(db, args.papers)
    import sqlite3

    conn = sqlite3.connect(db)
    count = conn.execute("select count(*) from papers").fetchone()[0]
    tag_ids = dict(conn.execute("select name, id from tags"))
    links = conn.execute("select count(*) from papers_tags").fetchone()[0]
    conn.close()
    print(f"database: {db.name}, {count:,} papers, {links:,} tag links, {db.stat().st_size / 2**20:.0f} MB")

    server = Serve(db)
    try:
        paths = scenarios(server, tag_ids)
        for make_path in paths.values():  # warm the page cache and Datasette's schema cache
            load(server, make_path, 1, 3)
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        problems: list[str] = []
        for _ in range(args.runs):
            for name, make_path in paths.items():
                for clients in (1, args.clients):
                    latencies, seen = load(
                        server, make_path, clients, args.requests if clients > 1 else 2 * args.requests // 3
                    )
                    problems += seen
                    results.setdefault((name, clients), []).append((percentile(latencies, 50), percentile(latencies, 95)))
    finally:
        server.close()

    print(
        f"\nlatency in ms, loopback, `papertrack serve` in its own process; median of {args.runs} runs "
        f"({args.requests} requests per client per run)"
    )
    print(f"{'scenario':<10} {'clients':>7} {'p50':>8} {'p95':>8}   runs (p50/p95)")
    for (name, clients), runs in results.items():
        p50 = statistics.median(r[0] for r in runs)
        p95 = statistics.median(r[1] for r in runs)
        detail = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in runs)
        print(f"{name:<10} {clients:>7} {p50:8.0f} {p95:8.0f}   {detail}")
    for name in paths:
        one = statistics.median(r[0] for r in results[(name, 1)])
        many = statistics.median(r[0] for r in results[(name, args.clients)])
        print(f"{name}: p50 with {args.clients} clients / 1 client = {many / one:.1f}")
    print(f"\nproblems: {len(problems)}" + (f" (first: {problems[0]})" if problems else ""))


if __name__ == "__main__":
    main()
