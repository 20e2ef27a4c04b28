"""The editor's desk, measured: its page with 500 candidates in the window.

    python bench/desk_bench.py [--papers 100000] [--candidates 500] [--n 60] [--workdir /tmp/papertrack-desk-bench]

Builds (once, cached in bench/out/) N papers resampled from real arXiv records
(bench/corpus.py) spread from 2022 to 2026, so that a fortnight holds about 1,000 papers;
40 papers tagged quantization are picked for three past issues and `picks` is ranked
(`rank`); the issue has 10 picks, 5 with the editor's notes and 10 with drafts (5 accepted).
The window is the days before the issue that hold `--candidates` papers. Then `papertrack
serve` runs as a real process, an editor signs in, and one client (keep-alive) times, side
by side in one run:

  * /-/desk with the ranked profile (candidates best first, grouped by tag, the picks, the
    section) and with an unranked one (newest first);
  * /-/desk/digest.md; a pick and an unpick (POSTs written under the database's lock);
  * anonymous /browse (the landing page) as the yardstick, and the desk/browse ratio;
  * `newsletter.desk.read_desk` in-process (the page's SQL and Python, without HTML).

Prints p50 and p95 (ms) of `--n` requests each, and the desk page's size.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accounts_bench import PASSWORD, Reader
from browse_bench import free_port, percentile, start
from corpus import seed_records
from datasette_bench import OUT, build

ISSUE_PICKS = 10


def prepare(db: Path, args: argparse.Namespace) -> tuple[str, str, str]:
    """Past picks, `picks` ranked, the issue's picks, notes and drafts; returns (issue,
    window start, window end) with `--candidates` papers in the window."""
    from papertrack.newsletter.editorial import Note, pick, set_note
    from papertrack.rank.profiles import rank
    from papertrack.store.drafts import accept_draft, save_draft
    from papertrack.store.schema import open_db, transaction

    store = open_db(db)
    store.execute("delete from picks")
    store.execute("delete from notes")
    store.execute("delete from drafts")
    store.conn.commit()
    quantized = [r[0] for r in store.execute(
        "select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = 'quantization' "
        "and pt.papers_id in (select id from papers where published < '2025-06-01') order by pt.papers_id")]  # fmt: skip
    rng = random.Random(21)
    for issue in ("2025-01-15", "2025-03-01", "2025-05-01"):
        pick(store, rng.sample(quantized, 14), issue)
    started = time.perf_counter()
    rank(store, ["picks"])
    print(f"rank --like picks: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    issue = date(2026, 6, 1)
    end = issue - timedelta(days=1)
    start_day = end
    while True:
        count = store.execute(
            "select count(*) from papers where published >= ? and published < ?",
            [start_day.isoformat(), issue.isoformat()],
        ).fetchone()[0]
        if count >= args.candidates or (end - start_day).days >= 91:
            break
        start_day -= timedelta(days=1)
    window = [r[0] for r in store.execute(
        "select id from papers where published >= ? and published < ? order by id",
        [start_day.isoformat(), issue.isoformat()])]  # fmt: skip
    chosen = rng.sample(window, ISSUE_PICKS)
    pick(store, chosen, issue)
    for k, pid in enumerate(chosen):
        if k % 2:
            set_note(
                store, pid, Note(headline=f"编辑的标题 {k}", summary="编辑写的摘要，两句话。\n第二句。", source="机器之心")
            )
        with transaction(store):
            save_draft(store, pid, "zh", f"草稿标题 {k}", "模型写的摘要。" * 8, "bench-model", "draft-prompt.txt@bench")
            if k < 5:
                accept_draft(store, pid, "zh")
    store.close()
    print(f"window {start_day} .. {end}: {count:,} papers", file=sys.stderr)
    return issue.isoformat(), start_day.isoformat(), end.isoformat()


def make_editor(library: Path) -> None:
    from papertrack.accounts.schema import open_library, transaction
    from papertrack.accounts.users import add_user

    for p in library.parent.glob(library.name + "*"):
        p.unlink()
    lib = open_library(library)
    with transaction(lib.conn):
        add_user(lib.conn, "ed", PASSWORD, "editor")
    lib.close()


def timed(reader: Reader, paths: list[str]) -> tuple[list[float], int]:
    lat, size = [], 0
    for path in paths:
        status, text, ms = reader.request("GET", path)
        assert status == 200, (status, path, text[:300])
        lat.append(ms)
        size = len(text.encode("utf-8"))
    return lat, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--n", type=int, default=60, help="requests per measurement")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/papertrack-desk-bench"))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    db = OUT / f"desk-{args.papers}-{'real' if 'oai' in seed_records()[1] else 'samples'}.db"
    if not db.exists():
        build(db, args.papers, start=datetime(2022, 1, 1))
    issue, first, last = prepare(db, args)
    args.workdir.mkdir(parents=True, exist_ok=True)
    library = args.workdir / "library.db"
    make_editor(library)

    from papertrack.newsletter.desk import read_desk
    from papertrack.store.schema import open_db

    store = open_db(db)
    state = read_desk(store, issue, date_from=first, date_to=last)
    in_process = []
    for _ in range(args.n):
        started = time.perf_counter()
        read_desk(store, issue, date_from=first, date_to=last)
        in_process.append((time.perf_counter() - started) * 1000)
    store.close()
    print(f"desk: {state.candidates} candidates in {len(state.groups)} groups, {len(state.picks)} picks; "
          f"ranked: {state.ranked}", file=sys.stderr)  # fmt: skip

    port = free_port()
    server = start([sys.executable, "-m", "papertrack", "serve", "--db", str(db), "--library", str(library),
                    "--port", str(port)], port)  # fmt: skip
    try:
        editor, anonymous = Reader(port, "ed"), Reader(port)
        editor.sign_in()
        desk = f"/-/desk?issue={issue}&from={first}&to={last}"
        rows: dict[str, tuple[list[float], int]] = {}
        for _ in range(2):  # warm, then measured
            rows["/-/desk (ranked: picks)"] = timed(editor, [desk] * args.n)
            rows["/-/desk (unranked: newest first)"] = timed(editor, [desk + "&profile=quantization"] * args.n)
            rows["/-/desk/digest.md"] = timed(editor, [f"/-/desk/digest.md?issue={issue}"] * args.n)
            rows["anonymous /browse"] = timed(anonymous, ["/browse"] * args.n)
        writes = []
        conn = sqlite3.connect(db)
        outside = [r[0] for r in conn.execute("select id from papers where published < ? limit ?", [first, args.n])]
        conn.close()
        for pid in outside:
            for action in ("pick", "unpick"):
                status, text, ms = editor.request("POST", f"/-/desk/{action}", {"issue": issue, "paper": pid})
                assert status == 303, (status, text[:300])
                writes.append(ms)
    finally:
        server.terminate()
        server.wait()

    print(f"\n{args.papers:,} papers; window {first} .. {last} ({state.candidates} candidates), "
          f"{len(state.picks)} picks; {args.n} requests each, one client; ms")  # fmt: skip
    print(f"{'':<36}{'p50':>8}{'p95':>8}{'KB':>8}")
    for name, (lat, size) in rows.items():
        print(f"{name:<36}{percentile(lat, 50):>8.1f}{percentile(lat, 95):>8.1f}{size / 1024:>8.0f}")
    print(f"{'POST pick / unpick (under the lock)':<36}{percentile(writes, 50):>8.1f}{percentile(writes, 95):>8.1f}")
    print(f"{'read_desk in-process (no HTML)':<36}{percentile(in_process, 50):>8.1f}{percentile(in_process, 95):>8.1f}")
    ranked, browse = rows["/-/desk (ranked: picks)"][0], rows["anonymous /browse"][0]
    print(f"\ndesk p95 / browse p95: {percentile(ranked, 95) / percentile(browse, 95):.1f}x; "
          f"median desk {statistics.median(ranked):.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
