"""Profile ranking and related papers, measured through the real `papertrack` commands.

    python bench/rank_bench.py [--part eval|speed|all] [--workdir /tmp/papertrack-rank-bench] [--shared DIR]

eval    As the editor works, on ../shared/data/arxiv/recent-cs-2024.jsonl.gz (33,347 real
        arXiv listings of 2024) with the curated compression lists' ids as the truth:
        import-snapshot of the papers first submitted 2024-01..06, match, the curated ids
        among them as a library .bib (import-bibtex --tag my-library), `papertrack rank
        --like my-library`; then import-snapshot of 2024-07..12, match, `papertrack rank
        --update` (the stored model scores the new papers, as after a harvest). Each later
        month's papers are ranked by (a) newest first, (b) more compression tags first,
        (c) arxiv-sanity-lite's recipe (compute.py's TfidfVectorizer on title, abstract and
        authors; serve.py's LinearSVC(C=0.1, class_weight="balanced"), fitted on the same
        papers and positives), and ours (the `scores` table). Mean average precision and
        precision@20 per month, side by side. Ties: newest first, then id.
speed   200,000 papers (the 2024 listings plus records resampled from ../shared with words
        shuffled, dated 2007-2023): `papertrack rank` in a fresh process (wall, peak RSS of
        the process tree), then 1,000 new papers: `papertrack rank --update` from process
        start, and a harvest of them from a local arXiv stand-in with and without
        `rank: [my-library]` in queries.yaml (what ranking adds to a harvest).
Related papers (quality against plain cosine, speed at 1M): bench/related_bench.py.

Skips with a message when ../shared is absent. Heavy steps run under `nice`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "my-library"
TEST_MONTHS = ["2024-07", "2024-08", "2024-09", "2024-10", "2024-11", "2024-12"]
CLOSED = "http://127.0.0.1:9/api/query"  # nothing is ever fetched from arXiv


def papertrack(*args: str, cwd: Path, env: dict | None = None) -> str:
    environ = {**os.environ, "PAPERTRACK_ARXIV_URL": CLOSED, "PAPERTRACK_ARXIV_DELAY": "0", **(env or {})}
    out = subprocess.run(
        ["nice", sys.executable, "-m", "papertrack", *args], cwd=cwd, env=environ, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"papertrack {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return out.stdout


def shipped_queries(path: Path, rank: bool = False) -> Path:
    """The shipped queries.yaml (its saved queries and taxonomy), with or without `rank:`."""
    text = re.sub(r"(?m)^rank:.*\n", "", (ROOT / "queries.yaml").read_text(encoding="utf-8"))
    path.write_text(text + (f"rank: [{PROFILE}]\n" if rank else ""), encoding="utf-8")
    return path


def curated(shared: Path) -> set[str]:
    with (shared / "data" / "curated-lists" / "arxiv_ids_by_list.tsv").open() as f:
        return {r["arxiv_id"].strip() for r in csv.DictReader(f, delimiter="\t")}


def real_2024(shared: Path) -> list[dict]:
    with gzip.open(shared / "data" / "arxiv" / "recent-cs-2024.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, records) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def library_bib(path: Path, db: Path, truth: set[str], months: tuple[str, str]) -> int:
    """The curated ids first submitted in `months` (as stored), as a researcher's .bib."""
    con = sqlite3.connect(db)
    rows = [
        r
        for r in con.execute("select id, title from papers where substr(published, 1, 7) between ? and ?", months)
        if r[0] in truth
    ]
    con.close()
    entries = [
        f"@misc{{lib{i},\n  title = {{{re.sub(r'[{}]', '', t)}}},\n  eprint = {{{pid}}},\n  archivePrefix = {{arXiv}}\n}}\n"
        for i, (pid, t) in enumerate(rows)
    ]
    path.write_text("\n".join(entries), encoding="utf-8")
    return len(rows)


# ---------------------------------------------------------------- eval


def average_precision(relevant: list[bool]) -> float:
    hits, total = 0, 0.0
    for rank, rel in enumerate(relevant, 1):
        if rel:
            hits += 1
            total += hits / rank
    return total / hits if hits else float("nan")


def sanity_scores(train: list[tuple], positives: set[str], test: list[tuple]) -> list[float]:
    """arxiv-sanity-lite (karpathy/arxiv-sanity-lite): compute.py's vectoriser, serve.py's SVM."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    def text(row: tuple) -> str:
        return " ".join([row[1] or "", row[2] or "", " ".join(json.loads(row[3] or "[]"))])

    v = TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode", lowercase=True,
        analyzer="word", stop_words="english", token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True, max_df=0.1, min_df=5,
        dtype=np.float32,
    )  # fmt: skip
    X = v.fit_transform([text(r) for r in train])
    y = [1 if r[0] in positives else 0 for r in train]
    svm = LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.1).fit(X, y)
    return list(svm.decision_function(v.transform([text(r) for r in test])))


def evaluate(shared: Path, work: Path) -> None:
    from papertrack.config import load_config
    from papertrack.sources.snapshot import record_to_paper

    records, truth = real_2024(shared), curated(shared)

    first = [r for r in records if (record_to_paper(r).published or "") < "2024-07"]
    rest = [r for r in records if (record_to_paper(r).published or "") >= "2024-07"]
    work.mkdir(parents=True, exist_ok=True)
    db, queries = work / "eval.db", shipped_queries(work / "queries.yaml")
    for p in work.glob("eval.db*"):
        p.unlink()
    t0 = time.perf_counter()
    papertrack(
        "import-snapshot", str(write_jsonl(work / "h1.jsonl", first)), "--db", str(db), "--queries", str(queries), cwd=work
    )
    papertrack("match", "--db", str(db), "--queries", str(queries), cwd=work)
    n_lib = library_bib(work / "library.bib", db, truth, ("2024-01", "2024-06"))
    papertrack(
        "import-bibtex", str(work / "library.bib"), "--db", str(db), "--tag", PROFILE, "--queries", str(queries), cwd=work
    )
    t1 = time.perf_counter()
    papertrack("rank", "--like", PROFILE, "--db", str(db), "--queries", str(queries), cwd=work)
    fit_s = time.perf_counter() - t1
    # what the editor's database holds at the end of June, for arxiv-sanity's fit
    con = sqlite3.connect(db)
    train = con.execute("select id, title, abstract, authors from papers").fetchall()
    positives = {r[0] for r in con.execute(
        "select papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = ?", [PROFILE])}  # fmt: skip
    con.close()
    papertrack(
        "import-snapshot", str(write_jsonl(work / "h2.jsonl", rest)), "--db", str(db), "--queries", str(queries), cwd=work
    )
    papertrack("match", "--db", str(db), "--queries", str(queries), cwd=work)
    t2 = time.perf_counter()
    papertrack("rank", "--update", "--like", PROFILE, "--db", str(db), "--queries", str(queries), cwd=work)
    update_s = time.perf_counter() - t2
    print(f"{len(records):,} listings: {len(first):,} submitted 2024-01..06, {len(rest):,} later; "
          f"library: {n_lib} curated papers of 2024-01..06 ({len(positives)} tagged {PROFILE})")  # fmt: skip
    print(
        f"database built in {t1 - t0:.0f} s; rank (fit) {fit_s:.1f} s; rank --update of the later papers {update_s:.1f} s\n"
    )

    con = sqlite3.connect(db)
    topic = [r.tag for r in load_config(queries).taxonomy]
    methods = ["(a) newest", "(b) compression tags", "(c) arxiv-sanity", "ours"]
    table: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in methods}
    counts = {}
    for month in TEST_MONTHS:
        rows = con.execute(
            "select p.id, p.title, p.abstract, p.authors, p.published, s.score, "
            "(select count(*) from papers_tags pt join tags t on t.id = pt.tags_id "
            " where pt.papers_id = p.id and t.name in (select value from json_each(?))) "
            "from papers p left join scores s on s.papers_id = p.id and s.profile = ? "
            "where substr(p.published, 1, 7) = ?",
            [json.dumps(topic), PROFILE, month],
        ).fetchall()
        sanity = sanity_scores(train, positives, rows)
        keys = {
            "(a) newest": [0.0] * len(rows),
            "(b) compression tags": [float(r[6]) for r in rows],
            "(c) arxiv-sanity": sanity,
            "ours": [r[5] for r in rows],
        }
        counts[month] = (sum(r[0] in truth for r in rows), len(rows))
        for m in methods:
            order = sorted(range(len(rows)), key=lambda i: (keys[m][i], rows[i][4] or "", rows[i][0]), reverse=True)
            rel = [rows[i][0] in truth for i in order]
            table[m][month] = (average_precision(rel), sum(rel[:20]) / 20)
    con.close()
    print("Mean AP / P@20 per month (learnt from 2024-01..06, the stored model scores each later month)\n")
    print(f"| month | curated / papers | {' | '.join(methods)} |")
    print("|---|---|" + "---|" * len(methods))
    for month in TEST_MONTHS:
        cells = " | ".join(f"{table[m][month][0]:.3f} / {table[m][month][1]:.2f}" for m in methods)
        print(f"| {month} | {counts[month][0]} / {counts[month][1]:,} | {cells} |")
    means = " | ".join(
        f"**{statistics.fmean(v[0] for v in table[m].values()):.3f} / {statistics.fmean(v[1] for v in table[m].values()):.2f}**"
        for m in methods
    )
    print(f"| mean | | {means} |\n")


# ---------------------------------------------------------------- speed


def _tree_rss_mb(root: int) -> float:
    """VmRSS summed over `root` and its descendants (ranking's worker processes too)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                status = dict(
                    line.split(":", 1) for line in Path(f"/proc/{d}/status").read_text().splitlines() if ":" in line
                )
            except OSError:
                continue
            children.setdefault(int(status["PPid"]), []).append(int(d))
            rss[int(d)] = int(status.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total / 1024


def timed(args: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB, whole process tree, sampled every 0.1 s) of `papertrack ARGS`."""
    environ = {**os.environ, "PAPERTRACK_ARXIV_URL": CLOSED, "PAPERTRACK_ARXIV_DELAY": "0", **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["nice", sys.executable, "-m", "papertrack", *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode:
        sys.exit(f"papertrack {' '.join(args)} failed:\n{out[-2000:]}\n{err[-2000:]}")
    return wall, peak[0], out


def corpus_200k(shared: Path, path: Path, n: int = 200_000) -> Path:
    """The 2024 listings as they are, plus records resampled from every real record with new
    ids (YYMM.9xxxx, never a real id) and v1 dates over 2007-2023, words shuffled."""
    real = real_2024(shared)
    seeds = real + corpus.seed_records()[0]
    rng = random.Random(7)
    start, span = datetime(2007, 4, 1), (datetime(2023, 12, 31) - datetime(2007, 4, 1)).total_seconds()
    extra, per_month = n - len(real), {}
    out = list(real)
    for i in range(extra):
        base = seeds[rng.randrange(len(seeds))]
        created = start + timedelta(seconds=span * i / extra)
        month = created.strftime("%y%m")
        per_month[month] = per_month.get(month, 0) + 1
        words_t, words_a = (base.get("title") or "").split(), (base.get("abstract") or "").split()
        rng.shuffle(words_t)
        rng.shuffle(words_a)
        out.append({**base, "id": f"{month}.9{per_month[month]:04d}", "title": " ".join(words_t), "abstract": " ".join(words_a),
                    "versions": [{"version": "v1", "created": created.strftime("%a, %d %b %Y %H:%M:%S GMT")}],
                    "update_date": created.strftime("%Y-%m-%d")})  # fmt: skip
    return write_jsonl(path, out)


def new_records(shared: Path, n: int = 1000) -> list[dict]:
    """n real 2024 records as new papers of 2025 (new ids)."""
    rng = random.Random(11)
    return [
        {**r, "id": f"2501.{k + 1:05d}", "versions": [{"version": "v1", "created": "Wed, 01 Jan 2025 10:00:00 GMT"}],
         "update_date": "2025-01-01"}
        for k, r in enumerate(rng.sample(real_2024(shared), n))
    ]  # fmt: skip


def serve(records: list[dict], conn) -> None:
    from papertrack.sources.arxiv_standin import ReplayArxiv
    from papertrack.sources.snapshot import record_to_paper

    server = ReplayArxiv([record_to_paper(r) for r in records])
    conn.send(server.url)
    server.serve_forever()


def speed(shared: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    pristine, queries = work / "b200k.db", shipped_queries(work / "queries.yaml")
    if not pristine.exists():  # built once, never changed: each run works on copies
        t0 = time.perf_counter()
        snap = corpus_200k(shared, work / "snap200k.jsonl")
        papertrack("import-snapshot", str(snap), "--db", str(pristine), "--queries", str(queries), cwd=work)
        papertrack("match", "--db", str(pristine), "--queries", str(queries), cwd=work)
        library_bib(work / "library.bib", pristine, curated(shared), ("2024-01", "2024-06"))
        papertrack("import-bibtex", str(work / "library.bib"), "--db", str(pristine), "--tag", PROFILE, cwd=work)
        print(f"built {pristine.name} ({pristine.stat().st_size >> 20} MB) in {time.perf_counter() - t0:.0f} s")
    db = work / "b200k-run.db"
    for p in work.glob("b200k-run.db*"):
        p.unlink()
    shutil.copy(pristine, db)
    n = sqlite3.connect(db).execute("select count(*) from papers").fetchone()[0]
    print(f"\n`papertrack rank --like {PROFILE}` on {n:,} papers, fresh process, 2 workers")
    for run in range(2):
        wall, rss, out = timed(["rank", "--like", PROFILE, "--db", str(db), "--queries", str(queries)], work)
        print(f"  run {run + 1}: {wall:.1f} s, peak RSS {rss:,.0f} MB (process tree); load after {os.getloadavg()[0]:.1f}")
    print("  " + out.strip().replace("\n", "\n  "))

    # 1,000 new papers: stored first (no rank: in the queries file), then scored
    base = work / "b200k-base.db"
    shutil.copy(db, base)
    fresh = new_records(shared)
    papertrack(
        "import-snapshot",
        str(write_jsonl(work / "new1000.jsonl", fresh)),
        "--db",
        str(db),
        "--queries",
        str(queries),
        cwd=work,
    )
    wall, rss, out = timed(["rank", "--update", "--like", PROFILE, "--db", str(db), "--queries", str(queries)], work)
    print(
        f"\nscoring 1,000 new papers with the stored model (`rank --update`, from process start): {wall:.2f} s, {rss:,.0f} MB"
    )
    wall2, _, _ = timed(["rank", "--update", "--like", PROFILE, "--db", str(db), "--queries", str(queries)], work)
    print(f"the same with nothing new (finding that nothing is new): {wall2:.2f} s")

    # a harvest of the same 1,000 papers from a local stand-in, with and without rank:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(fresh, child), daemon=True)
    server.start()
    url = parent.recv()
    one = "queries:\n  - name: ai\n    source: arxiv\n    query: 'cat:cs.AI'\n    tags: [ai]\n"
    taxonomy = (ROOT / "queries.yaml").read_text(encoding="utf-8").split("\ntaxonomy:", 1)[1].split("\nrank:")[0]
    walls: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(2):
        for with_rank in (False, True):
            copy = work / "harvest.db"
            for p in work.glob("harvest.db*"):
                p.unlink()
            shutil.copy(base, copy)
            q = work / f"harvest-{with_rank}.yaml"
            q.write_text(one + "taxonomy:" + taxonomy + (f"\nrank: [{PROFILE}]\n" if with_rank else "\n"), encoding="utf-8")
            wall, _, out = timed(
                ["harvest", "--db", str(copy), "--queries", str(q)], work, env={"PAPERTRACK_ARXIV_URL": url}
            )
            walls[with_rank].append(wall)
    server.terminate()
    plain, ranked = statistics.median(walls[False]), statistics.median(walls[True])
    print(f"harvest of 1,000 new papers (local stand-in, delay 0, from process start), median of 2: "
          f"{plain:.2f} s without rank:, {ranked:.2f} s with rank: [{PROFILE}] (+{ranked - plain:.2f} s)")  # fmt: skip
    print("  " + out.strip().splitlines()[-1])


def start(given: Path | None) -> Path | None:
    """The shared data directory (`given`, else ../shared), or None with a message when it
    lacks the 2024 listings; prints the run's date, cores and load."""
    shared = given or corpus.SHARED
    if not (shared / "data" / "arxiv" / "recent-cs-2024.jsonl.gz").exists():
        print(f"skipped: needs {shared}/data/arxiv/recent-cs-2024.jsonl.gz and the curated lists (../shared)")
        return None
    if given:
        corpus.REAL = [given / "data" / "arxiv" / p.name for p in corpus.REAL]
    print(f"{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    return shared


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["eval", "speed", "all"], default="all")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/papertrack-rank-bench"))
    ap.add_argument("--shared", type=Path, help="the shared data directory, when not ../shared (e.g. from a worktree)")
    args = ap.parse_args()
    shared = start(args.shared)
    if shared is None:
        return
    if args.part in ("eval", "all"):
        evaluate(shared, args.workdir)
    if args.part in ("speed", "all"):
        speed(shared, args.workdir)


if __name__ == "__main__":
    main()
