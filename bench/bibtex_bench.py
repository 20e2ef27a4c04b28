"""BibTeX benchmark: export of N papers and import of an M-entry file, medians of runs.

    python bench/bibtex_bench.py [--papers 10000] [--entries 2000] [--runs 5] [--shared DIR]

Prints, for one run on this machine (2 shared cores: figures are medians, runs listed):
  * export of all N papers (`papertrack.bibtex.export.export`: query, keys, titles, names,
    bibtexparser writer), next to bibtexparser's writer alone on the same entries;
  * import of an M-entry file into the N-paper database: half the entries carry an
    arXiv id of a stored paper, a quarter only a title (lowercased) and authors of one
    (fuzzy title match), a quarter are papers it does not have (DOI or key ids);
  * import of M entries with unknown arXiv ids into an empty database, fetched by
    `id_list` in batches of 200 from a local arXiv stand-in (delay 0, own process).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bibtexparser
import corpus
from bibtexparser.middlewares import default_unparse_stack
from bibtexparser.model import Entry, Field

from papertrack.bibtex.export import COLUMNS, entry, export, write
from papertrack.bibtex.importer import import_bibtex
from papertrack.models import Paper
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.snapshot import record_to_paper
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction

VENUES = [
    ("CVPR 2021", "conference", None, None),
    ("ICLR 2020 Workshop on Efficiency", "workshop", None, None),
    ("IEEE Transactions on Neural Networks and Learning Systems", "journal", "32", "1-14"),
]


def papers(n: int, extra: int) -> tuple[list[Paper], list[Paper]]:
    """n stored papers (a third with a venue) and `extra` more that only the stand-in knows."""
    rng = random.Random(5)
    out = []
    for record in corpus.generate(n + extra):
        p = record_to_paper(record)
        if rng.random() < 0.33:
            p.venue, p.venue_type, p.volume, p.pages = rng.choice(VENUES)
        out.append(p)
    return out[:n], out[n:]


def build_db(path: Path, stored: list[Paper]) -> None:
    db = open_db(path)
    for i in range(0, len(stored), 2000):
        with transaction(db):
            save_papers(db, stored[i : i + 2000], venue_source="dblp")


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def import_file(db_path: Path, stored_ids: list[str], new: list[Paper], m: int, out: Path) -> None:
    """The mixed M-entry file described in the module docstring."""
    db = open_db(db_path)
    rng = random.Random(11)
    chosen = rng.sample(stored_ids, m * 3 // 4)
    rows = {r["id"]: r for r in db.query(f"select {', '.join(COLUMNS)} from papers")}
    entries = [entry(rows[i]) for i in chosen[: m // 2]]
    for i in chosen[m // 2 :]:  # title and authors only
        e = entry(rows[i])
        keep = {"title", "author", "year", "booktitle", "journal"}
        entries.append(
            Entry(
                e.entry_type,
                e.key + "x",
                [Field(f.key, f.value.lower() if f.key == "title" else f.value) for f in e.fields if f.key in keep],
            )
        )
    for n, p in enumerate(new[: m - len(entries)]):
        e = entry(
            {
                **dict.fromkeys(COLUMNS),
                "id": f"bib:new{n}",
                "title": p.title,
                "authors": '["Nobody New"]',
                "year": 2021,
                "doi": f"10.9999/new.{n}" if n % 2 else None,
                "citation_key": f"new{n}",
            }
        )
        entries.append(e)
    rng.shuffle(entries)
    out.write_text(bibtexparser.write_string(bibtexparser.Library(entries)), encoding="utf-8")


def serve(n: int, extra: int, conn) -> None:
    from papertrack.sources.arxiv_standin import ReplayArxiv

    server = ReplayArxiv(papers(n, extra)[1])
    conn.send(server.url)
    server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=10000)
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", type=Path, help="the shared data directory, when not ../shared (e.g. from a worktree)")
    args = ap.parse_args()
    if args.shared:
        corpus.REAL = [args.shared / "data" / "arxiv" / p.name for p in corpus.REAL]
    n, m, runs = args.papers, args.entries, args.runs
    print(f"corpus: {n} + {m} records resampled from {corpus.seed_records()[1]}")
    stored, new = papers(n, m)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base.db"
        build_db(base, stored)
        db = open_db(base)
        export(db)  # keys are assigned at save time; this warms the page cache
        rows = list(db.query(f"select {', '.join(COLUMNS)} from papers"))

        t_export, all_export = median_time(lambda: export(db), runs)
        text, count = export(db)
        library = bibtexparser.Library([entry(r) for r in rows])
        stack = default_unparse_stack(allow_inplace_modification=True)
        t_writer, _ = median_time(lambda: bibtexparser.write_string(library, unparse_stack=stack), runs)
        print(f"\nexport of {count} papers ({len(text) / 1e6:.1f} MB of BibTeX), {runs} runs")
        print(
            f"  papertrack bibtex: {t_export:.2f} s median (runs: {', '.join(f'{t:.2f}' for t in all_export)}), "
            f"{count / t_export:,.0f} entries/s"
        )
        print(
            f"  bibtexparser's writer alone on the same entries: {t_writer:.2f} s median "
            f"-> export = {t_export / t_writer:.1f} x the writer (the rest: query, names, titles, escaping)"
        )

        bib = tmp / "mixed.bib"
        import_file(base, [p.id for p in stored], new, m, bib)
        times, report = [], None
        for i in range(max(3, runs // 2)):
            copy = tmp / f"copy{i}.db"
            with sqlite3.connect(copy) as target:  # the backup API also copies what is still in the WAL
                db.conn.backup(target)
            client = ArxivClient("http://127.0.0.1:9/unused", delay=0)
            started = time.perf_counter()
            report = import_bibtex(open_db(copy), bib, client=client)
            times.append(time.perf_counter() - started)
        print(f"\nimport of a {m}-entry file into the {n}-paper database, {len(times)} runs")
        print(
            f"  {statistics.median(times):.2f} s median (runs: {', '.join(f'{t:.2f}' for t in times)}), "
            f"{m / statistics.median(times):,.0f} entries/s"
        )
        print(f"  {report.summary()}")

        parent, child = mp.Pipe()
        proc = mp.Process(target=serve, args=(n, m, child), daemon=True)
        proc.start()
        url = parent.recv()
        fetch_bib = tmp / "arxiv.bib"
        fetch_bib.write_text(
            write(
                {
                    **dict.fromkeys(COLUMNS),
                    "id": p.id,
                    "title": p.title,
                    "authors": '["A B"]',
                    "year": 2020,
                    "citation_key": f"k{p.id}",
                }
                for p in new
            ),
            encoding="utf-8",
        )
        times = []
        for i in range(3):
            client = ArxivClient(url, delay=0)
            started = time.perf_counter()
            report = import_bibtex(open_db(tmp / f"empty{i}.db"), fetch_bib, client=client)
            times.append(time.perf_counter() - started)
        proc.terminate()
        print(f"\nimport of {m} unknown arXiv ids into an empty database, fetched from a local stand-in, 3 runs")
        print(
            f"  {statistics.median(times):.2f} s median (runs: {', '.join(f'{t:.2f}' for t in times)}), "
            f"{client.requests} requests per run"
        )
        print(f"  {report.summary()}")


if __name__ == "__main__":
    main()
