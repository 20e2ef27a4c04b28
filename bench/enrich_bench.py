"""Enrichment benchmark: `papertrack.enrich.derive()` on the bench corpus, side by side.

    python bench/enrich_bench.py [--papers 20000] [--runs 7] [--queries queries.yaml]

derive() (summary + venue + code link + taxonomy) runs on every harvested paper; it must
stay >= 16,000 papers/s. Prints, for the same records in one run and as medians of
interleaved runs (this machine's speed drifts: see harvest_bench.py):
  * derive() with the taxonomy of queries.yaml, and without any taxonomy;
  * each part alone: summary, venue, code link, taxonomy (and the taxonomy's share);
  * how many records the taxonomy's regexes actually ran on (the rest were ruled out
    by substring tests, see papertrack/enrich/tags.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import corpus

from papertrack.config import load_config
from papertrack.enrich import derive
from papertrack.enrich.code_links import code_url
from papertrack.enrich.summary import summarize
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.enrich.venue import venue_from
from papertrack.sources.snapshot import record_to_paper

GOAL = 16_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--queries", default=str(Path(__file__).resolve().parents[1] / "queries.yaml"))
    args = ap.parse_args()

    papers = [record_to_paper(r) for r in corpus.generate(args.papers)]
    taxonomy = Taxonomy(load_config(args.queries).taxonomy)
    print(f"corpus: {len(papers)} records resampled from {corpus.seed_records()[1]}; taxonomy: {len(taxonomy.rules)} tags")
    cases = {
        "derive() with taxonomy": lambda p: derive(p, taxonomy),
        "derive() without taxonomy": lambda p: derive(p),
        "  summary": lambda p: summarize(p.abstract),
        "  venue": lambda p: venue_from(p.comment, p.journal_ref),
        "  code link": lambda p: code_url(p.abstract, p.comment),
        "  taxonomy": lambda p: taxonomy.match(p.title, p.abstract),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved, so every case sees the same machine conditions
        for name, fn in cases.items():
            started = time.perf_counter()
            for p in papers:
                fn(p)
            rates[name].append(len(papers) / (time.perf_counter() - started))
    median = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\nmedians of {args.runs} interleaved runs (papers/s):")
    for name, rate in median.items():
        print(f"  {name:<28} {rate:>10,.0f}   ({1e6 / rate:5.1f} us/paper)")
    full, bare = median["derive() with taxonomy"], median["derive() without taxonomy"]
    print(
        f"\nderive() with taxonomy: {full:,.0f} papers/s (goal >= {GOAL:,}: {'ok' if full >= GOAL else 'BELOW'}); "
        f"the taxonomy costs {bare / full - 1:.0%} on top of the rest"
    )
    gated = sum(1 for p in papers if _regex_ran(taxonomy, p))
    print(
        f"taxonomy regexes ran on {gated / len(papers):.1%} of the records; "
        f"{sum(1 for p in papers if taxonomy.match(p.title, p.abstract)) / len(papers):.1%} got a tag"
    )


def _regex_ran(taxonomy: Taxonomy, paper) -> bool:
    low_title = paper.title.lower()
    low_text = f" {low_title}\n{paper.abstract.lower()}"
    present = taxonomy._probe.present(low_text)
    return any(
        (r.include and r.include.may_match(low_text, present)) or (r.title and r.title.may_match(low_title, present))
        for r in taxonomy.rules
    )


if __name__ == "__main__":
    main()
