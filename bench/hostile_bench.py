"""The worst requests found against the site, and the hostile CLI inputs, before and after:
time, status and server memory for each, side by side in one run.

    python bench/hostile_bench.py [--db FILE] [--before DIR] [--cap-gb 3]

Serves a database of real papers (default: built once in bench/out/ from ../shared's 2024
cs listings and 2015-16 OAI records with `import-snapshot`) with `papertrack serve` from
this checkout and, with `--before DIR` (a checkout of an older papertrack, e.g.
`git worktree add /tmp/before dad3024`), from that one too, each under an address-space
cap (`--cap-gb`: the machine must survive the old code). Then, for each server:

1. each hostile request alone: status, seconds, the server's resident and peak memory;
2. `/browse?q=pruning` p95 alone and while three exports (`/browse.bib` of a broad
   search, oldest first) run in a loop;
3. the CLI: `import-bibtex` of 10,000 entries whose titles share their words.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browse_bench import free_port, percentile
from datasette_bench import OUT

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAPERTRACK_SHARED") or ROOT.parent / "shared")
PLURALS = "networks models layers weights".split()


def phrase(n: int) -> str:
    return " ".join((PLURALS * n)[:n])


HOSTILE = [
    ("phrase of 19 plural words", "/browse?" + urllib.parse.urlencode({"q": f'"{phrase(19)}"'})),
    ("phrase of 21 plural words", "/browse?" + urllib.parse.urlencode({"q": f'"{phrase(21)}"'})),
    ("phrase of 24 plural words", "/browse?" + urllib.parse.urlencode({"q": f'"{phrase(24)}"'})),
    ('ti:"..." of 10 words', "/browse?" + urllib.parse.urlencode({"q": f'ti:"{phrase(10)}"'})),
    ('ti:"..." of 13 words', "/browse?" + urllib.parse.urlencode({"q": f'ti:"{phrase(13)}"'})),
    ('all:"..." of 30 words', "/browse?" + urllib.parse.urlencode({"q": f'all:"{phrase(30)}"'})),
    ("after=<40 digits>,1", "/browse?after=" + "9" * 40 + ",1"),
    ("after=<5000 digits>,1 (.bib)", "/browse.bib?after=" + "9" * 5000 + ",1"),
    ("start=²", "/browse?after=5,1&start=%C2%B2"),
    ("export, broad search, oldest", "/browse.bib?q=network%20model&sort=oldest"),
    ("SQL: printf of 300 MB", "/{db}.json?" + urllib.parse.urlencode({"sql": "select printf('%.*c',300000000,'x')"})),
    ("SQL: randomblob of 300 MB", "/{db}.json?" + urllib.parse.urlencode({"sql": "select randomblob(300000000)"})),
    ("/-/databases.json (paths)", "/-/databases.json"),
]
# the public profile (`serve --profile public`, the default of --immutable): anonymous SQL and paths
PUBLIC = ["SQL: printf of 300 MB", "/-/databases.json (paths)"]


def build_db() -> Path:
    db = OUT / "hostile-real.db"
    if not db.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        for name in ("recent-cs-2024.jsonl.gz", "oai-cs-2015-2016.jsonl"):
            src = SHARED / "data" / "arxiv" / name
            if not src.exists():
                raise SystemExit(f"needs {src} (or --db FILE)")
            run_cli(ROOT, "import-snapshot", str(src), "--db", str(db))
    return db


def launcher(src: Path) -> list[str]:
    """Run the papertrack of checkout `src` (its package first on the path)."""
    code = f"import sys; sys.path.insert(0, {str(src)!r}); from papertrack.cli import cli; cli()"
    return [sys.executable, "-c", code]


def run_cli(src: Path, *args: str, cap: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*launcher(src), *args], capture_output=True, text=True, preexec_fn=_capped(cap))


def _capped(cap: int | None):
    if cap is None:
        return None
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def get(port: int, path: str, timeout: float = 120) -> tuple[int, float, int]:
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - started, len(body)
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - started, 0


def serve(src: Path, db: Path, cap: int, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [*launcher(src), "serve", "--db", str(db.resolve()), "--port", str(port), *extra]
    # in the checkout: its own metadata.json
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_capped(cap), cwd=src)
    for _ in range(600):
        if get(port, "/-/versions.json", 5)[0] == 200:
            return proc, port
        if proc.poll() is not None:
            raise SystemExit(f"server did not start: {cmd}")
        time.sleep(0.2)
    raise SystemExit("server did not start in time")


def hostile(src: Path, db: Path, cap: int, public: bool = False) -> dict[str, tuple]:
    out = {}
    for name, path in HOSTILE:
        if public and name not in PUBLIC:
            continue
        # a fresh server each: one request's memory is not the next one's
        proc, port = serve(src, db, cap, *(["--profile", "public"] if public else []))
        status, seconds, size = get(port, path.format(db=db.stem))
        alive = proc.poll() is None
        rss, peak = memory_mb(proc.pid) if alive else (0.0, 0.0)
        out[name] = (status if alive else "killed", seconds, size, rss, peak)
        proc.kill()
        proc.wait()
    return out


def starved(src: Path, db: Path, cap: int, n: int = 60) -> tuple[float, float]:
    """/browse?q=pruning p95 (ms) alone, then while three exports loop."""
    proc, port = serve(src, db, cap)
    try:
        get(port, "/browse?q=pruning")
        alone = [get(port, f"/browse?q=pruning&sort={s}")[1] * 1000 for s in ("newest", "relevance") * (n // 2)]
        stop = threading.Event()

        def export() -> None:
            while not stop.is_set():
                get(port, "/browse.bib?q=network%20model&sort=oldest")

        threads = [threading.Thread(target=export) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1)
        busy = [get(port, f"/browse?q=pruning&sort={s}")[1] * 1000 for s in ("newest", "relevance") * (n // 2)]
        stop.set()
        for t in threads:
            t.join()
        return percentile(alone, 95), percentile(busy, 95)
    finally:
        proc.kill()
        proc.wait()


def junk_import(src: Path, entries: int = 10_000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        bib = Path(tmp) / "junk.bib"
        bib.write_text(
            "".join(
                f"@article{{junk{i}, title = {{Junk title {i} qwzx}}, author = {{Author{i} Smith{i}}}, "
                f"journal = {{J}}, year = {{2020}}}}\n"
                for i in range(entries)
            )
        )
        started = time.perf_counter()
        result = run_cli(src, "import-bibtex", str(bib), "--db", str(Path(tmp) / "p.db"))
        if result.returncode:
            raise SystemExit(result.stderr)
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--before", type=Path, help="a checkout of an older papertrack to compare with")
    ap.add_argument("--cap-gb", type=float, default=3.0)
    ap.add_argument("--junk", type=int, default=10_000, help="entries of the crafted .bib (0: skip)")
    args = ap.parse_args()
    db = args.db or build_db()
    cap = int(args.cap_gb * 2**30)
    papers = sqlite3_count(db)
    sides = {"after": ROOT} | ({"before": args.before} if args.before else {})
    print(f"# {papers:,} papers in {db}; each server under a {args.cap_gb:g} GB address-space cap")
    results = {side: hostile(src, db, cap) for side, src in sides.items()}
    public = hostile(ROOT, db, cap, public=True)
    head = "| request | " + " | ".join(f"{s}: status, s, RSS/peak MB" for s in sides) + " |"
    print("\n" + head + "\n|---|" + "---|" * len(sides))
    for name, _ in HOSTILE:
        cells = []
        for side in sides:
            status, seconds, size, rss, peak = results[side][name]
            cells.append(f"{status}, {seconds:.2f} s, {rss:.0f}/{peak:.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for name in PUBLIC:
        status, seconds, size, rss, peak = public[name]
        print(f"| {name}, public profile | {status}, {seconds:.2f} s, {rss:.0f}/{peak:.0f} |" + " |" * (len(sides) - 1))
    worst = {side: max(results[side].values(), key=lambda r: (r[4], r[1])) for side in sides}
    for side, (status, seconds, _, _, peak) in worst.items():
        print(f"worst request ({side}): peak {peak:.0f} MB, {seconds:.2f} s, status {status}")
    print("\n| /browse?q=pruning p95 | " + " | ".join(sides) + " |\n|---|" + "---|" * len(sides))
    figures = {side: starved(src, db, cap) for side, src in sides.items()}
    print("| alone | " + " | ".join(f"{figures[s][0]:.0f} ms" for s in sides) + " |")
    print("| with 3 exports looping | " + " | ".join(f"{figures[s][1]:.0f} ms" for s in sides) + " |")
    if args.junk:
        times = {side: junk_import(src, args.junk) for side, src in sides.items()}
        print(
            f"\nimport-bibtex of {args.junk:,} entries sharing their title words: "
            + ", ".join(f"{s} {t:.1f} s" for s, t in times.items())
        )
        if "before" in times:
            print(f"ratio before/after: {times['before'] / times['after']:.0f}x")


def sqlite3_count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("select count(*) from papers").fetchone()[0]
    finally:
        conn.close()


if __name__ == "__main__":
    main()
