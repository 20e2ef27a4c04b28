"""Readers' accounts: the for-you page, likes, and ranking with dislikes, measured.

    python bench/accounts_bench.py [--part speed|quality|all] [--papers 100000] [--users 20]
                                   [--clients 8] [--n 120] [--workdir /tmp/papertrack-accounts-bench]

speed    The 100,000-paper database of browse_bench.py (built once into bench/out/), a
         library of `--users` readers (each saved 15 papers of one tag, disliked 5 of
         another; every other reader mutes a word), `papertrack serve` as a real process.
         After every reader's first ranking (timed from the first page that asks for it):
         p50/p95 of the same scenarios (landing, a tag, a search, a search with a tag, the
         next page) as anonymous /browse, signed-in /browse (muted words, buttons) and
         /browse?sort=for-you, with 1 and --clients clients, and the ratios; the time from a
         like to a changed first page, for one reader at a time and for --clients readers at
         once; anonymous /browse p95 alone and while --clients readers click like or save
         every second; the server's and the ranking process's memory.
quality  ../shared/data/arxiv/recent-cs-2024.jsonl.gz (33,347 real listings of 2024), all of
         them in one database (import-snapshot, match), the curated compression lists' ids
         as the truth: a reader's library is the curated papers of 2024-01..06 (positives);
         dislikes are drawn from the other papers of 2024-01..06, at random (unrelated) or
         among the 100 the ranking without dislikes puts first (what a reader is shown and
         turns down); the reader's ranking (`rank.feedback.fit_feedback`, what the server
         fits) orders each later month's papers. Mean average precision per month without
         dislikes and with 20 or 100 (3 draws each), side by side; also with 20,000
         unlabelled papers and with every paper instead of the 10,000 sampled.
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browse_bench import free_port, percentile, start
from datasette_bench import OUT, TAGS, build

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password"
CARD = re.compile(r'<article class="card" id="paper-([^"]+)">')
NOTICE = 'id="for-you-notice"'


# ---------------------------------------------------------------- HTTP as a signed-in reader


class Reader:
    """One browser: its cookies and a keep-alive connection."""

    def __init__(self, port: int, name: str | None = None):
        self.port, self.name, self.cookies = port, name, {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode({"csrftoken": self.cookies.get("ds_csrftoken", ""), **form})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # uvicorn closes a connection idle for 5 s: open another (the request is sent again)
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            started = time.perf_counter()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        elapsed = (time.perf_counter() - started) * 1000
        for header in response.headers.get_all("set-cookie") or []:
            name, _, value = header.split(";")[0].partition("=")
            if value:
                self.cookies[name.strip()] = value
        return response.status, text, elapsed

    def sign_in(self) -> None:
        self.request("GET", "/-/login")
        status, text, _ = self.request("POST", "/-/login", {"username": self.name, "password": PASSWORD})
        assert status == 303, (status, text[:300])


def load(readers: list[Reader], paths: list[list[str]], seconds: float | None = None) -> list[float]:
    """Each reader GETs its paths in a thread of its own: the latencies (ms)."""
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds if seconds else None

    def run(reader: Reader, mine: list[str]) -> None:
        i = 0
        while i < len(mine) or stop:
            if stop and time.monotonic() > stop:
                return
            status, _, ms = reader.request("GET", mine[i % len(mine)])
            assert status == 200, (status, mine[i % len(mine)])
            with lock:
                lat.append(ms)
            i += 1

    threads = [threading.Thread(target=run, args=(r, p)) for r, p in zip(readers, paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat


# ---------------------------------------------------------------- speed


def make_library(db: Path, path: Path, n_users: int) -> dict[str, dict]:
    from papertrack.accounts import entries
    from papertrack.accounts.schema import open_library, transaction
    from papertrack.accounts.users import add_user

    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    conn = sqlite3.connect(db)
    by_tag = {
        t: [r[0] for r in conn.execute(
            "select pt.papers_id from papers_tags pt join tags g on g.id = pt.tags_id where g.name = ? order by pt.papers_id", [t])]
        for t in TAGS
    }  # fmt: skip
    conn.close()
    rng = random.Random(19)
    lib = open_library(path)
    readers = {}
    with transaction(lib.conn):
        for i in range(n_users):
            name, tag, other = f"reader{i:02d}", TAGS[i % len(TAGS)], TAGS[(i + 3) % len(TAGS)]
            user = add_user(lib.conn, name, PASSWORD)
            for pid in rng.sample(by_tag[tag], 15):
                entries.apply(lib.conn, user.id, pid, "save")
            for pid in rng.sample(by_tag[other], 5):
                entries.apply(lib.conn, user.id, pid, "dislike")
            if i % 2:
                entries.mute(lib.conn, user.id, "survey")
            readers[name] = {"tag": tag, "other": other}
    lib.close()
    return readers


def scenarios(conn: sqlite3.Connection, tag: str, rng: random.Random, n: int) -> dict[str, list[str]]:
    """Query strings per scenario (the sort is added by the caller)."""
    titles = [r[0] for r in conn.execute("select title from papers where rowid % 97 = 0 limit 2000")]
    words = [w.lower() for t in titles for w in re.findall(r"[A-Za-z]{6,}", t)]
    out: dict[str, list[str]] = {"landing": [""] * n, "tag": [], "search": [], "search+tag": []}
    for _ in range(n):
        out["tag"].append(urllib.parse.urlencode({"tag": rng.choice(TAGS)}))
        out["search"].append(urllib.parse.urlencode({"q": rng.choice(words)}))
        out["search+tag"].append(urllib.parse.urlencode({"q": rng.choice(words), "tag": tag}))
    return out


def paths_for(query: str, sort: str | None) -> str:
    params = [query] if query else []
    if sort:
        params.append(f"sort={sort}")
    return "/browse" + ("?" + "&".join(params) if params else "")


def next_link(reader: Reader, path: str) -> str:
    m = re.search(r'<a href="([^"]+)" rel="next"', reader.request("GET", path)[1])
    return m.group(1).replace("&amp;", "&") if m else path


def first_cards(reader: Reader) -> list[str]:
    return CARD.findall(reader.request("GET", "/browse?sort=for-you")[1])


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *child_pids(pid)]:
        try:
            text = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]
        except (OSError, AttributeError):
            pass
    return total


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out] + [c for p in out for c in child_pids(int(p))]


def speed(args: argparse.Namespace) -> None:
    from corpus import seed_records

    OUT.mkdir(exist_ok=True)
    db = OUT / f"datasette-{args.papers}-{'real' if 'oai' in seed_records()[1] else 'samples'}.db"
    if not db.exists():
        build(db, args.papers)
    library = args.workdir / "library.db"
    args.workdir.mkdir(parents=True, exist_ok=True)
    names = make_library(db, library, args.users)
    port = free_port()
    cmd = [sys.executable, "-m", "papertrack", "serve", "--db", str(db), "--library", str(library), "--port", str(port)]
    server = start(cmd, port)
    try:
        _speed(args, db, port, names, server)
    finally:
        server.terminate()
        server.wait()


def _speed(args, db: Path, port: int, names: dict[str, dict], server: subprocess.Popen) -> None:
    readers = [Reader(port, name) for name in names]
    for r in readers:
        r.sign_in()
    started = time.perf_counter()
    for r in readers:
        r.request("GET", "/browse?sort=for-you")
    for r in readers:
        while NOTICE in r.request("GET", "/browse?sort=for-you")[1]:
            time.sleep(0.2)
    print(f"{len(readers)} readers' first rankings (features of every paper, then {len(readers)} fits): "
          f"{time.perf_counter() - started:.1f} s; memory: server and ranking process {rss_mb(server.pid):,.0f} MB")  # fmt: skip

    conn = sqlite3.connect(db)
    rng = random.Random(7)
    table: dict[tuple[str, str, int], list[float]] = {}
    kinds = {"anonymous /browse": (None, False), "signed-in /browse": (None, True), "for-you": ("for-you", True)}
    for clients in (1, args.clients):
        group = readers[:clients]
        per = [scenarios(conn, names[r.name]["tag"], rng, args.n // clients + 1) for r in group]
        anonymous = [Reader(port) for _ in group]
        for kind, (sort, signed) in kinds.items():
            who = group if signed else anonymous
            nexts = [next_link(w, paths_for("", sort)) for w in who]
            for scenario in ("landing", "tag", "search", "search+tag", "next"):
                paths = [
                    [nexts[i]] * (args.n // clients + 1)
                    if scenario == "next"
                    else [paths_for(q, sort) for q in per[i][scenario]]
                    for i in range(len(who))
                ]
                load(who, [p[:2] for p in paths])  # warm
                table[(kind, scenario, clients)] = load(who, paths)
    conn.close()
    print(f"\np95 (p50) in ms, {args.n} requests per cell; ratio: for-you p95 / anonymous /browse p95")
    print(f"{'scenario':<12}{'clients':>8}" + "".join(f"{k:>24}" for k in kinds) + f"{'ratio':>8}")
    for clients in (1, args.clients):
        for scenario in ("landing", "tag", "search", "search+tag", "next"):
            cells = [table[(k, scenario, clients)] for k in kinds]
            row = "".join(f"{percentile(c, 95):>15.1f} ({percentile(c, 50):5.1f})" for c in cells)
            print(f"{scenario:<12}{clients:>8}{row}{percentile(cells[2], 95) / percentile(cells[0], 95):>8.2f}")
        everything = [
            [x for s in ("landing", "tag", "search", "search+tag", "next") for x in table[(k, s, clients)]] for k in kinds
        ]
        row = "".join(f"{percentile(c, 95):>15.1f} ({percentile(c, 50):5.1f})" for c in everything)
        print(f"{'all':<12}{clients:>8}{row}{percentile(everything[2], 95) / percentile(everything[0], 95):>8.2f}")

    print("\nfrom a like to a changed first page of for-you:")
    lags = [like_and_wait(r, names[r.name]) for r in readers[: min(5, len(readers))]]
    print(f"  one reader at a time: median {statistics.median(lags):.2f} s, max {max(lags):.2f} s ({len(lags)} likes)")
    together: list[float] = []
    threads = [
        threading.Thread(target=lambda r=r: together.append(like_and_wait(r, names[r.name])))
        for r in readers[5 : 5 + args.clients]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"  {len(together)} readers at once: median {statistics.median(together):.2f} s, max {max(together):.2f} s")

    probe = Reader(port)
    conn = sqlite3.connect(db)
    mixed = [paths_for(q, None) for s in scenarios(conn, TAGS[0], random.Random(3), 60).values() for q in s]
    conn.close()
    random.Random(4).shuffle(mixed)
    load([probe], [mixed[:20]])
    alone = load([probe], [mixed], seconds=args.seconds)
    stop = threading.Event()
    clicks: list[float] = []
    clickers = [threading.Thread(target=click, args=(r, stop, clicks)) for r in readers[: args.clients]]
    for t in clickers:
        t.start()
    busy = load([probe], [mixed], seconds=args.seconds)
    stop.set()
    for t in clickers:
        t.join()
    print(f"\nanonymous /browse while {len(clickers)} readers click like or save every second ({len(clicks)} clicks, "
          f"POST p95 {percentile(clicks, 95):.0f} ms):")  # fmt: skip
    print(f"  alone p50 {percentile(alone, 50):.1f} p95 {percentile(alone, 95):.1f} ms (n={len(alone)}); "
          f"with clicks p50 {percentile(busy, 50):.1f} p95 {percentile(busy, 95):.1f} ms (n={len(busy)}): "
          f"p95 x{percentile(busy, 95) / percentile(alone, 95):.2f}")  # fmt: skip
    print(f"memory after: {rss_mb(server.pid):,.0f} MB")


def like_and_wait(reader: Reader, profile: dict, timeout: float = 120) -> float:
    """Like the paper the reader's ranking puts last among another tag's: seconds until the
    first page of for-you is a different list."""
    before = first_cards(reader)
    far = CARD.findall(reader.request("GET", f"/browse?sort=for-you&tag={profile['other']}&q=network")[1]) or before
    status, _, _ = reader.request("POST", "/-/library", {"paper": far[-1], "action": "like", "next": "/browse"})
    assert status == 303
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        now = first_cards(reader)
        if now != before:
            return time.perf_counter() - started
        time.sleep(0.1)
    return float("inf")


def click(reader: Reader, stop: threading.Event, lat: list[float]) -> None:
    cards = first_cards(reader)
    rng = random.Random(reader.name)
    while not stop.is_set():
        status, _, ms = reader.request(
            "POST", "/-/library", {"paper": rng.choice(cards), "action": rng.choice(["like", "save"])}
        )
        assert status == 303
        lat.append(ms)
        stop.wait(1.0)


# ---------------------------------------------------------------- quality


def quality(args: argparse.Namespace) -> None:
    import numpy as np
    from rank_bench import TEST_MONTHS, average_precision, curated, papertrack, real_2024, shipped_queries, write_jsonl

    from papertrack.accounts.ranker import connect
    from papertrack.rank.feedback import PaperIndex, fit_feedback

    shared = args.shared
    if not (shared / "data" / "arxiv" / "recent-cs-2024.jsonl.gz").exists():
        print(f"quality: skipped, no {shared}/data/arxiv/recent-cs-2024.jsonl.gz")
        return
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    db = work / "quality.db"
    if not db.exists():
        queries = shipped_queries(work / "queries.yaml")
        papertrack(
            "import-snapshot",
            str(write_jsonl(work / "all.jsonl", real_2024(shared))),
            "--db",
            str(db),
            "--queries",
            str(queries),
            cwd=work,
        )
        papertrack("match", "--db", str(db), "--queries", str(queries), cwd=work)
    truth = curated(shared)
    conn = connect(db)
    months = dict(conn.execute("select id, substr(published, 1, 7) from papers"))
    t0 = time.perf_counter()
    index = PaperIndex.build(conn, n_jobs=2)
    conn.close()
    print(f"{len(index.ids):,} papers of 2024, features in {time.perf_counter() - t0:.0f} s")
    first = [i for i in index.ids if months[i] < "2024-07"]
    library = [i for i in first if i in truth]
    unrelated = [i for i in first if i not in truth]
    print(f"library: {len(library)} curated papers of 2024-01..06; dislikes drawn from the {len(unrelated):,} others")
    pos = index.row_of(library)

    def ap_by_month(scores) -> dict[str, float]:
        out = {}
        for month in TEST_MONTHS:
            rows = [r for r, pid in enumerate(index.ids) if months[pid] == month]
            order = sorted(rows, key=lambda r: (-scores[r], index.ids[r]))
            out[month] = average_precision([index.ids[r] in truth for r in order])
        return out

    columns: dict[str, dict[str, float]] = {}
    timings: dict[str, float] = {}
    plain = fit_feedback(index.X, pos, seed=1).scores(index.X)
    first_rows = set(index.row_of(first).tolist())
    shown = [index.ids[r] for r in np.argsort(-plain) if r in first_rows and index.ids[r] not in truth][:100]
    runs = [
        ("no dislikes", [], None),
        ("20 unrelated", unrelated, None),
        ("100 unrelated", unrelated, None),
        ("20 of the top 100", shown, None),
        ("none, 20k unlabelled", [], 20_000),
        ("none, every paper", [], len(index.ids)),
    ]
    for label, pool, unlabelled in runs:
        n_neg = int(label.split()[0]) if label[0].isdigit() else 0
        per_seed = []
        for seed in (1, 2, 3) if n_neg else (1,):
            neg = index.row_of(random.Random(seed).sample(pool, n_neg)) if n_neg else None
            started = time.perf_counter()
            kw = {"unlabelled": unlabelled} if unlabelled else {}
            model = fit_feedback(index.X, pos, neg, seed=seed, **kw)
            timings[label] = time.perf_counter() - started
            per_seed.append(ap_by_month(model.scores(index.X)))
        columns[label] = {m: float(np.mean([s[m] for s in per_seed])) for m in TEST_MONTHS}
    print(
        "\nmean average precision per month; positives: the library; dislikes: papers of 2024-01..06 not curated, "
        "drawn at random (unrelated) or from the 100 such papers the ranking without dislikes puts first (what a "
        "reader is shown and turns down); mean of 3 draws; unlabelled: 10,000 sampled unless said"
    )
    print(f"{'month':<10}" + "".join(f"{c:>22}" for c in columns))
    for month in TEST_MONTHS:
        print(f"{month:<10}" + "".join(f"{columns[c][month]:>22.3f}" for c in columns))
    print(f"{'mean':<10}" + "".join(f"{statistics.mean(columns[c].values()):>22.3f}" for c in columns))
    print(f"{'fit (s)':<10}" + "".join(f"{timings[c]:>22.1f}" for c in columns))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["speed", "quality", "all"], default="all")
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--n", type=int, default=120, help="requests per scenario and page kind")
    ap.add_argument("--seconds", type=float, default=20, help="length of each /browse run beside the clicks")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/papertrack-accounts-bench"))
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = ap.parse_args()
    if args.part in ("speed", "all"):
        speed(args)
    if args.part in ("quality", "all"):
        quality(args)


if __name__ == "__main__":
    main()
