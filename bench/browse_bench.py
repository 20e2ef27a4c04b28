"""The researchers' site (/browse) against stock Datasette, side by side in one run.

    python bench/browse_bench.py [--papers 100000 | --db FILE] [--n 150] [--stock-n 40] [--clients 8]
                                 [--replica-seconds 20] [--no-stock] [--shared DIR]

Builds (once, cached in bench/out/, the same build as datasette_bench.py) a database of N
papers, or takes --db (e.g. snapshot_bench.py's 1M papers), then:

1. serves it with `papertrack serve` and times /browse scenarios with 1 and --clients
   clients: search (relevance), search with filters, filters alone, the landing page,
   deep pages (10-500) of a list and (5-50) of a search, feeds, arXiv-syntax searches
   and paper pages; then a mixed workload of the comparable scenarios;
2. serves it the stock way, `datasette FILE --metadata metadata.json` with no plugin
   (Datasette skips entry-point plugins; its table view then has no tag facet, which
   needs papertrack's m2m facet), and times the same inputs as table-view URLs
   (`_search`, `_through` for tags, column filters, `_next` for deep pages, row pages);
3. serves it with `papertrack serve --immutable` (a replica) and measures requests/s
   under the mixed workload at --clients and 2x --clients.

Every URL within a scenario is distinct (search strings from the corpus's own titles,
random filter combinations), and the 1-client, N-client and mixed runs use different
inputs: nothing benefits from a repeat (neither setup caches results anyway). For
/browse, the server's `Server-Timing` header splits each request into SQL and rendering.
Prints p50/p95 per scenario and the stock/browse ratios.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browse_workload as workload
import corpus
from datasette_bench import OUT, build

ROOT = Path(__file__).resolve().parents[1]
COMPARABLE = ("search", "search_filters", "filters", "landing", "deep_browse", "paper")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


# ---------------------------------------------------------------- URLs


def cursor_at(conn: sqlite3.Connection, q: str | None, f: dict, offset: int) -> tuple | None:
    """The `after` cursor of the row at `offset` of a newest-first list (computed untimed)."""
    from papertrack.store.browse import BrowseQuery, find_sort, selection_of, sort_of

    query = BrowseQuery(q or "", tuple(f["tags"]), f["category"], f["venue"], f["year"], "newest")
    sel = selection_of(conn, query)
    sort, arg = find_sort(sort_of(query, sel))
    keys = sort.keys(conn, sel, arg, None, offset)
    return (keys[-1][1], keys[-1][0]) if len(keys) == offset else None


def browse_args(f: dict) -> list[tuple[str, object]]:
    return [("tag", t) for t in f["tags"]] + [(k, v) for k in ("category", "venue", "year") if (v := f[k]) is not None]


def stock_args(f: dict, tag_ids: dict[str, int]) -> list[tuple[str, object]]:
    through = [
        ("_through", json.dumps({"table": "papers_tags", "column": "tags_id", "value": str(tag_ids[t])})) for t in f["tags"]
    ]
    cols = {"category": "primary_category", "venue": "venue", "year": "year"}
    return through + [(cols[k], v) for k in cols if (v := f[k]) is not None]


def workloads(conn: sqlite3.Connection, name: str, size: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """scenario -> distinct URLs for /browse, and the same inputs as stock table-view URLs."""
    from datasette.utils import tilde_encode

    rng = random.Random(1)
    enc = urllib.parse.urlencode
    qs = workload.searches(conn, 5 * size)
    fs = workload.filters(conn, 2 * size)
    tag_ids = dict(conn.execute("select name, id from tags"))
    table = f"/{name}/papers"
    ours: dict[str, list[str]] = {}
    stock: dict[str, list[str]] = {}
    ours["search"] = ["/browse?" + enc([("q", q)]) for q in qs[:size]]
    stock["search"] = [table + "?" + enc([("_search", q)]) for q in qs[:size]]
    pairs = list(zip(qs[size : 2 * size], itertools.cycle(fs)))
    ours["search_filters"] = ["/browse?" + enc([("q", q), *browse_args(f)]) for q, f in pairs]
    stock["search_filters"] = [table + "?" + enc([("_search", q), *stock_args(f, tag_ids)]) for q, f in pairs]
    ours["filters"] = ["/browse?" + enc(browse_args(f)) for f in fs[:size]]
    stock["filters"] = [table + "?" + enc(stock_args(f, tag_ids)) for f in fs[:size]]
    ours["landing"], stock["landing"] = ["/"] * size, [table] * size  # one page each: the front page
    none = {"tags": [], "category": None, "venue": None, "year": None}
    ours["deep_browse"], stock["deep_browse"] = [], []
    for f in itertools.cycle(fs[size:]):
        if len(ours["deep_browse"]) >= size:
            break
        f = f if rng.random() < 0.5 else none
        offset = rng.choice((10, 25, 50, 100, 250, 500)) * 20
        cursor = cursor_at(conn, None, f, offset)
        if cursor is None:
            continue
        ours["deep_browse"].append(
            "/browse?" + enc([*browse_args(f), ("after", f"{cursor[0]!r},{cursor[1]}"), ("start", offset)])
        )
        pid, published = conn.execute("select id, published from papers where rowid = ?", [cursor[1]]).fetchone()
        token = f"{tilde_encode(published)},{tilde_encode(pid)}"
        stock["deep_browse"].append(table + "?" + enc([*stock_args(f, tag_ids), ("_next", token)]))
    ours["deep_search"] = []
    for q in qs[2 * size :]:
        if len(ours["deep_search"]) >= size:
            break
        offset = rng.choice((5, 10, 25, 50)) * 20
        cursor = cursor_at(conn, q, none, offset)
        if cursor:
            ours["deep_search"].append(
                "/browse?" + enc([("q", q), ("sort", "newest"), ("after", f"{cursor[0]!r},{cursor[1]}")])
            )
    ours["feed"] = [
        "/browse.atom?" + enc([("q", q)] if i % 2 else browse_args(f)) for i, (q, f) in enumerate(zip(qs[3 * size :], fs))
    ][:size]
    ours["arxiv"] = ["/browse?" + enc([("q", q)]) for q in workload.arxiv_searches(conn, size)]
    ids = [r[0] for r in conn.execute("select id from papers order by random() limit ?", [size])]
    ours["paper"] = stock["paper"] = [f"/{name}/papers/{tilde_encode(i)}" for i in ids]
    return ours, stock


def thirds(urls: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Disjoint inputs for the 1-client, N-client and mixed runs."""
    k = len(urls) // 3
    return urls[:k], urls[k : 2 * k], urls[2 * k :]


# ---------------------------------------------------------------- servers and load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/-/versions.json")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    raise SystemExit(f"server did not start: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")


def papertrack_server(db: Path, port: int, immutable: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "papertrack", "serve", "--db", str(db), "--port", str(port)]
    return start(cmd + (["--immutable"] if immutable else []), port)


def stock_server(db: Path, port: int) -> subprocess.Popen:
    # Datasette skips entry-point plugins when sys._called_from_test is set: stock Datasette.
    # metadata.json's block is keyed `papers` (db/papers.db); key it by this file's name, as
    # the plugin would have applied it
    metadata = json.loads((ROOT / "metadata.json").read_text(encoding="utf-8"))
    metadata["databases"] = {db.stem: metadata["databases"]["papers"]}
    path = OUT / "stock-metadata.json"
    path.write_text(json.dumps(metadata), encoding="utf-8")
    launcher = "import sys; sys._called_from_test = True; from datasette.cli import cli; cli()"
    return start([sys.executable, "-c", launcher, "serve", str(db), "-p", str(port), "--metadata", str(path)], port)


def load(port: int, paths: list[str], clients: int, seconds: float | None = None) -> dict:
    """GET every path (or cycle through them for `seconds`) from `clients` threads with one
    keep-alive connection each: latencies (ms), Server-Timing parts, problems, requests/s."""
    lat: list[float] = []
    timing: list[dict[str, float]] = []
    bad: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds if seconds else None

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        mine = itertools.cycle(paths[k::clients]) if stop else paths[k::clients]
        for path in mine:
            if stop and time.monotonic() > stop:
                break
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            parts = dict(re.findall(r"(\w+);dur=([\d.]+)", response.getheader("server-timing") or ""))
            with lock:
                lat.append(elapsed)
                if parts:
                    timing.append({k: float(v) for k, v in parts.items()} | {"client": elapsed})
                if response.status != 200 or b"facets-timed-out" in body:
                    bad.append(f"{response.status} {path}")
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat": lat, "timing": timing, "bad": bad, "rps": len(lat) / (time.monotonic() - started)}


def measure(port: int, urls: dict[str, list[str]], clients: int, limit: int | None, mixed: list[str]) -> dict:
    for paths in urls.values():  # warm the OS page cache and the statement caches (inputs not timed later)
        load(port, paths[-2:], 1)
    out = {}
    for name, paths in urls.items():
        one, many, _ = thirds(paths)
        for n, chosen in ((1, one), (clients, many)):
            r = load(port, chosen[:limit], n)
            out[(name, n)] = r
            print(f"  {name:<15}{n:>3} clients  n={len(r['lat']):<4} p50 {percentile(r['lat'], 50):8.1f}  "
                  f"p95 {percentile(r['lat'], 95):8.1f} ms  {len(r['bad'])} problems"
                  + (f" (e.g. {r['bad'][0][:100]})" if r["bad"] else ""), flush=True)  # fmt: skip
    r = load(port, mixed, clients)
    out[("mixed", clients)] = r
    print(f"  {'mixed':<15}{clients:>3} clients  n={len(r['lat']):<4} p50 {percentile(r['lat'], 50):8.1f}  "
          f"p95 {percentile(r['lat'], 95):8.1f} ms  {len(r['bad'])} problems", flush=True)  # fmt: skip
    return out


def interleave(urls: dict[str, list[str]], limit: int | None) -> list[str]:
    parts = [thirds(urls[name])[2][:limit] for name in COMPARABLE]
    return [u for group in itertools.zip_longest(*parts) for u in group if u]


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--db", type=Path, help="an existing papertrack database instead of building one")
    ap.add_argument("--n", type=int, default=150, help="requests per scenario per client count (/browse)")
    ap.add_argument("--stock-n", type=int, default=40, help="the same for stock Datasette (slow)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--replica-seconds", type=float, default=20)
    ap.add_argument("--no-stock", action="store_true")
    ap.add_argument("--shared", type=Path, help="the shared data directory, when not ../shared (worktrees)")
    args = ap.parse_args()
    if args.shared:
        corpus.REAL = [args.shared / "data" / "arxiv" / p.name for p in corpus.REAL]
    OUT.mkdir(exist_ok=True)
    if args.db:
        db = args.db
    else:
        source = corpus.seed_records()[1]
        db = OUT / f"datasette-{args.papers}-{'real' if 'oai' in source else 'samples'}.db"
        if not db.exists():
            build(db, args.papers)
    from papertrack.store.schema import open_db

    open_db(db, create=False).close()  # migrate once, untimed (the servers then only read)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    count = conn.execute("select count(*) from papers").fetchone()[0]
    print(f"database: {db} ({count:,} papers, {db.stat().st_size / 2**20:,.0f} MB); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    started = time.perf_counter()
    ours, stock = workloads(conn, db.stem, 3 * args.n)
    print(f"workload: {sum(map(len, ours.values())):,} /browse URLs, "
          f"{len(set(q for u in ours['search'] + ours['search_filters'] for q in re.findall(r'q=([^&]*)', u))):,} distinct "
          f"search strings ({time.perf_counter() - started:.0f} s, untimed)", flush=True)  # fmt: skip

    results: dict[str, dict] = {}
    port = free_port()
    proc = papertrack_server(db, port)
    try:
        print("\n/browse (`papertrack serve`), ms:")
        results["browse"] = measure(port, ours, args.clients, None, interleave(ours, args.n))
    finally:
        proc.terminate()
        proc.wait()
    if not args.no_stock:
        port = free_port()
        proc = stock_server(db, port)
        try:
            print("\nstock Datasette (`datasette FILE --metadata metadata.json`, no plugin), ms:")
            results["stock"] = measure(port, stock, args.clients, args.stock_n, interleave(stock, args.stock_n // 2))
        finally:
            proc.terminate()
            proc.wait()
    report(results, args.clients)
    if args.replica_seconds:
        port = free_port()
        proc = papertrack_server(db, port, immutable=True)
        try:
            every = [u for name in ours for u in ours[name]]
            random.Random(4).shuffle(every)
            print(f"\none replica (`papertrack serve --immutable`), mixed workload for {args.replica_seconds:.0f} s:")
            load(port, every[:50], 2)
            for clients in (args.clients, 2 * args.clients):
                r = load(port, every, clients, args.replica_seconds)
                print(f"  {clients:>3} clients: {r['rps']:6.1f} requests/s, p50 {percentile(r['lat'], 50):6.1f} ms, "
                      f"p95 {percentile(r['lat'], 95):6.1f} ms, {len(r['bad'])} problems", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait()


def report(results: dict[str, dict], clients: int) -> None:
    ours = results["browse"]
    print("\nwhere /browse's time goes (Server-Timing), medians and p95 in ms:")
    print(
        f"  {'scenario':<15}{'clients':>8}{'sql p50':>9}{'sql p95':>9}{'render p50':>11}{'render p95':>11}{'outside p50':>12}"
    )
    for (name, n), r in ours.items():
        t = r["timing"]
        if not t:
            continue
        outside = [x["client"] - x["total"] for x in t]
        print(f"  {name:<15}{n:>8}{percentile([x['sql'] for x in t], 50):9.1f}{percentile([x['sql'] for x in t], 95):9.1f}"
              f"{percentile([x['render'] for x in t], 50):11.1f}{percentile([x['render'] for x in t], 95):11.1f}"
              f"{statistics.median(outside):12.1f}")  # fmt: skip
    if "stock" not in results:
        return
    stock = results["stock"]
    print(f"\np95 in ms, stock / browse ({clients} clients unless marked):")
    for key in [(name, n) for name in (*COMPARABLE, "mixed") for n in (1, clients)]:
        if key in ours and key in stock:
            a, b = percentile(stock[key]["lat"], 95), percentile(ours[key]["lat"], 95)
            print(f"  {key[0]:<15}{key[1]:>3} clients  stock {a:9.1f}  browse {b:8.1f}  ratio {a / b:7.1f}x")


if __name__ == "__main__":
    main()
