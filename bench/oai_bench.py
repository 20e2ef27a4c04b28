"""A month of daily runs of the shipped arXiv queries: query API against OAI-PMH, side by side.

    python bench/oai_bench.py [--days 30] [--base 20000] [--daily 2500]

Both channels start from the same backfill (day 0, through the query API) and then run
once a day for `--days` days against local stand-ins of arXiv's query API
(`sources/arxiv_standin.py`) and OAI-PMH (`tests/oai_standin.py`, 2,000 records a page)
serving the same records on the same simulated clock: `--base` records modified in the
two months before day 0, and `--daily` records modified each weekday (70% new papers, 20%
new versions, 10% metadata changes; nothing at weekends), resampled from real arXiv
records (`corpus.py`). Prints, per channel: requests (in all, per day, the busiest day),
bytes received, the client's wall and CPU time at delay 0 (HTTP on loopback, parsing,
matching, storing; the stand-ins run in their own process), and what the requests alone
cost at arXiv's 3 s between requests. It checks that both databases end with the same
papers for every query.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
import corpus  # noqa: E402

DAY0 = date(2024, 6, 3)
STAMP = "%a, %d %b %Y %H:%M:%S GMT"


def records(base: int, daily: int, days: int, seed: int = 11) -> tuple[list[dict], dict[int, list[dict]]]:
    """The records before day 0, and what each later day brings."""
    rng = random.Random(seed)
    pool = list(corpus.generate(base + daily * days, seed=seed))
    made: list[dict] = []
    counter = [0]

    def fresh(day: date) -> dict:
        rec = dict(pool[counter[0] % len(pool)])
        counter[0] += 1
        created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(86400))
        rec.update(
            id=f"{day:%y%m}.{counter[0]:05d}",
            versions=[{"version": "v1", "created": created.strftime(STAMP)}],
            update_date=day.isoformat(),
        )
        made.append(rec)
        return rec

    before = [fresh(DAY0 - timedelta(days=1 + rng.randrange(60))) for _ in range(base)]
    news: dict[int, list[dict]] = {}
    for d in range(1, days + 1):
        day = DAY0 + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        out = []
        for _ in range(daily):
            roll = rng.random()
            if roll < 0.7:
                out.append(fresh(day))
                continue
            old = dict(made[rng.randrange(len(made))])
            if roll < 0.9:
                stamp = datetime.combine(day, datetime.min.time()) + timedelta(hours=rng.randrange(24))
                version = {"version": f"v{len(old['versions']) + 1}", "created": stamp.strftime(STAMP)}
                old["versions"] = [*old["versions"], version]
            else:
                old["journal-ref"] = f"Journal of Benchmarks {day.year}"
            old["update_date"] = day.isoformat()
            out.append(old)
        news[d] = out
    return before, news


def serve(base: int, daily: int, days: int, conn) -> None:
    """The stand-ins (in this child process), moved from day to day by the parent."""
    from tests.oai_world import World

    before, news = records(base, daily, days)
    world = World(before)
    conn.send((world.api.url, world.oai.url, len(before), sum(len(v) for v in news.values())))
    while True:
        command = conn.recv()
        if command is None:
            world.close()
            return
        world.move_to(DAY0 + timedelta(days=command))
        world.publish(*news.get(command, []))
        conn.send("ok")


def counting(client, seen: list[int]):
    """Count the bytes of every answer the client receives."""
    get = client.http.get

    def counted(url, params=None):
        response = get(url, params)
        seen[0] += len(response.content)
        return response

    client.http.get = counted
    return client


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--base", type=int, default=20000)
    ap.add_argument("--daily", type=int, default=2500)
    args = ap.parse_args()

    from papertrack.config import load_config
    from papertrack.ingest.harvest import harvest
    from papertrack.sources.arxiv import ArxivClient
    from papertrack.sources.oai import OaiClient
    from papertrack.store.schema import open_db

    config = load_config(ROOT / "queries.yaml")
    config = replace(config, queries=tuple(q for q in config.queries if q.source == "arxiv"))
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(args.base, args.daily, args.days, child), daemon=True)
    server.start()
    api_url, oai_url, n_base, n_news = parent.recv()
    print(f"corpus: {n_base:,} records before day 0, {n_news:,} modifications over {args.days} days "
          f"(resampled from {corpus.seed_records()[1]}); {len(config.queries)} shipped arXiv queries")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {via: open_db(Path(tmp) / f"{via}.db") for via in ("api", "auto")}
        stats = {via: {"requests": [], "bytes": [0], "wall": 0.0, "cpu": 0.0} for via in dbs}
        for d in range(0, args.days + 1):
            parent.send(d)
            parent.recv()
            for via, db in dbs.items():
                seen = stats[via]["bytes"]
                clients = {
                    "arxiv-api": counting(ArxivClient(api_url, delay=0), seen),
                    "arxiv-oai": counting(OaiClient(oai_url, delay=0), seen),
                }
                wall, cpu = time.perf_counter(), time.process_time()
                reports = harvest(db, config, via="api" if d == 0 else via, clients=clients)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert all(r.status == "ok" for r in reports), [(r.query, r.error) for r in reports if r.error]
                if d:
                    stats[via]["requests"].append(sum(c.requests for c in clients.values()))
                    stats[via]["wall"] += wall
                    stats[via]["cpu"] += cpu
                for c in clients.values():
                    c.close()
            print(
                f"day {d}: requests {[s['requests'][-1] for s in stats.values()] if d else 'backfill'}",
                file=sys.stderr,
                flush=True,
            )
        linked = {
            via: {
                name: sorted(r[0] for r in db.execute("select papers_id from papers_queries where queries_id = ?", [qid]))
                for qid, name in db.execute("select id, name from queries")
            }
            for via, db in dbs.items()
        }
        same = linked["api"] == linked["auto"]
        held = {name: len(ids) for name, ids in linked["auto"].items()}
    parent.send(None)
    server.join(timeout=10)
    print(f"after the month: {sum(held.values()):,} query links ({', '.join(f'{k} {v}' for k, v in held.items())}); "
          f"both channels hold the same papers for every query: {same}")  # fmt: skip
    print(f"\n{'daily runs, ' + str(args.days) + ' days':<28}{'query API':>14}{'OAI-PMH':>14}{'ratio':>9}")
    rows = [
        ("requests", lambda s: sum(s["requests"]), "{:,}"),
        ("requests on the busiest day", lambda s: max(s["requests"]), "{:,}"),
        ("requests on a quiet day", lambda s: min(s["requests"]), "{:,}"),
        ("MB received", lambda s: s["bytes"][0] / 1e6, "{:,.1f}"),
        ("client wall time, s", lambda s: s["wall"], "{:,.1f}"),
        ("client CPU time, s", lambda s: s["cpu"], "{:,.1f}"),
        ("at 3 s a request, min", lambda s: sum(s["requests"]) * 3 / 60, "{:,.1f}"),
    ]
    for label, value, shape in rows:
        api, oai = value(stats["api"]), value(stats["auto"])
        ratio = f"{api / oai:.2f}x" if oai else "-"
        print(f"{label:<28}{shape.format(api):>14}{shape.format(oai):>14}{ratio:>9}")
    if not same:
        raise SystemExit("the channels disagree")


if __name__ == "__main__":
    main()
