"""`papertrack import-dblp` on a synthetic dump of a million records.

    python bench/dblp_import_bench.py [--records 1000000] [--keep FILE]

Writes a gzipped dump in dblp.xml's layout (tests/dblp_dump.py: articles, papers in
proceedings, proceedings volumes, person pages; entities such as &uuml; from the DTD
beside it; the tables of contents of the shipped dblp queries among thousands of others),
then prints: its size, the streaming parser alone (records/s), and the whole import for
the shipped queries.yaml (matching every record against its dblp queries, linking and
storing the matches, `--offline`: no arXiv look-ups), records/s, with the peak RSS of
that process (the dump is never held in memory).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dblp_dump import DTD, HEAD, element  # noqa: E402

WORDS = (
    "efficient binary neural network quantization pruning learning deep sparse model compression distillation "
    "graph vision language transformer robust scalable adaptive federated optimization analysis attention"
).split()
NAMES = ["J&uuml;rgen Schmidhuber", "Ren&eacute; Vidal", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Bj&ouml;rn Ommer"]


def write(path: Path, n: int, seed: int = 5) -> int:
    """A dump of `n` publications (plus a person page every 30); returns how many sit in the shipped tocs."""
    rng = random.Random(seed)
    shipped = 0
    with gzip.open(path, "wt", encoding="latin-1", compresslevel=6) as f:
        f.write(HEAD)
        for i in range(n):
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))).capitalize() + "."
            authors = rng.sample(NAMES, rng.randint(1, 4))
            roll, v = rng.random(), rng.randrange(3000)
            year = 2000 + v % 25
            if roll < 0.003:  # CVPR 2020 and ICLR 2023, the shipped dblp queries' volumes
                venue, year = ("CVPR", 2020) if i % 2 else ("ICLR", 2023)
                toc, kind, key, extra = f"db/conf/{venue.lower()}/{venue.lower()}{year}", "inproceedings", f"conf/x/P{i}", {}
                shipped += 1
            elif roll < 0.41:  # papers in proceedings, and (1%) the proceedings volumes
                venue, toc, key = f"C{v}", f"db/conf/c{v}/c{v}{year}", f"conf/c{v}/P{i}"
                kind, extra = ("inproceedings", {}) if roll < 0.4 else ("proceedings", {})
            else:
                venue, toc, key, kind, extra = (
                    f"J. {v}",
                    f"db/journals/j{v}/j{v}{year}",
                    f"journals/j{v}/A{i}",
                    "article",
                    {"volume": str(v % 60)},
                )
            f.write(element(kind, key, title, authors, venue, year, toc, ee=[f"https://doi.org/10.1/{i}"], **extra))
            if i % 30 == 0:
                f.write(
                    f'<www key="homepages/{i}" mdate="2024-01-01"><author>{authors[0]}</author><title>Home</title></www>\n'
                )
        f.write("</dblp>\n")
    shutil.copy(DTD, path.parent / "dblp.dtd")
    return shipped


def parse_only(path: Path) -> dict:
    from papertrack.sources.dblp_xml import read_dump

    started = time.perf_counter()
    n = sum(1 for _ in read_dump(path))
    return {"records": n, "seconds": time.perf_counter() - started}


def import_all(path: Path, db_path: str) -> dict:
    from papertrack.config import load_config
    from papertrack.ingest.import_dblp import import_dblp
    from papertrack.store.schema import open_db

    report = import_dblp(open_db(db_path), path, load_config(ROOT / "queries.yaml"))
    return {
        "records": report.read,
        "seconds": report.seconds,
        "matched": {q: c.records for q, c in report.queries.items()},
        "stored": {q: c.total for q, c in report.queries.items()},
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_child(what: str, path: Path, db: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, str(path), db], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--keep", help="write the dump here (and keep it) instead of a temporary directory")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, path, *rest = args.child
        print(json.dumps(parse_only(Path(path)) if what == "parse" else import_all(Path(path), rest[0])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep).parent if args.keep else Path(tmp)
        path = Path(args.keep) if args.keep else folder / "dblp.xml.gz"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        shipped = write(path, args.records)
        print(f"dump: {args.records:,} publications, {path.stat().st_size / 1e6:,.0f} MB gzipped, "
              f"{shipped:,} in the shipped queries' tables of contents (written in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        parse = in_child("parse", path)
        full = in_child("import", path, str(Path(tmp) / "papers.db"))
    print(f"streaming parser alone: {parse['records'] / parse['seconds']:,.0f} records/s ({parse['seconds']:.1f} s)")
    print(f"import-dblp --offline:  {full['records'] / full['seconds']:,.0f} records/s ({full['seconds']:.1f} s), "
          f"peak RSS {full['rss_mb']:.0f} MB")  # fmt: skip
    print(f"matched {full['matched']}; stored {full['stored']} (after the title filters)")


if __name__ == "__main__":
    main()
