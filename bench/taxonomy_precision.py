"""Precision and recall of the taxonomy in queries.yaml on real arXiv text.

    python bench/taxonomy_precision.py [--queries queries.yaml] [--show-misses]

Runs the taxonomy over the real records in ../shared/data/arxiv/ (the 2015-2016 cs OAI
harvest, one day of 2023 across all subjects, five pages of a 2025 cs query) and scores
its hits against the hand labels in bench/taxonomy_labels.tsv. Side by side, the same
for a naive one-keyword-per-tag baseline (NAIVE below), to show what the patterns and
exclusions buy. Recall is estimated twice: within the labelled pool, and on the titles
of the curated paper lists in ../shared/data/curated-lists/ (title only, so a lower bound).
Skips (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LABELS = Path(__file__).with_name("taxonomy_labels.tsv")
sys.path.insert(0, str(ROOT))

from papertrack.config import load_config  # noqa: E402
from papertrack.enrich.taxonomy import (  # noqa: E402
    Taxonomy,
    TaxonomyRule,
)

# What a first attempt would write: one obvious keyword per tag.
NAIVE = {
    "binarization": r"binari[sz]\w*|binary (?:neural|weights?|activations?|networks?)|xnor|1-bit",
    "quantization": r"quantiz\w*",
    "pruning": r"prun(?:e|ed|es|ing)",
    "distillation": r"distill\w*|teacher[- ]student",
    "nas": r"architecture search|nas",
    "bert-compression": r"(?:bert|transformers?|language models?|llms?)\W+(?:\w+\W+){0,6}?(?:compress\w*|distill\w*|prun\w*|quantiz\w*)"
    r"|(?:compress\w*|distill\w*|prun\w*|quantiz\w*)\W+(?:\w+\W+){0,6}?(?:bert|transformers?|language models?|llms?)",
    "sparse-training": r"sparse training|lottery|dynamic sparse|sparse networks?",
    "efficient-architectures": r"(?:light[- ]?weight|compact|efficient|small|tiny|mobile)[- ](?:\w+[- ])?(?:networks?|models?|architectures?|cnns?)",
}
# Curated list -> the tags that count as a hit for its papers.
CURATED = {
    "D-X-Y_Awesome-AutoDL_README.md": {"nas"},
    "FLHonker_Awesome-Knowledge-Distillation_README.md": {"distillation"},
    "dkozlov_awesome-knowledge-distillation_README.md": {"distillation"},
    "HuangOwen_Awesome-LLM-Compression_README.md": {"bert-compression"},
    "Zhen-Dong_Awesome-Quantization-Papers_README.md": {"quantization", "binarization"},
    "htqin_awesome-model-quantization_README.md": {"quantization", "binarization"},
    "he-y_Awesome-Pruning_README.md": {"pruning", "sparse-training"},
}
_TITLE = [
    re.compile(r"\*\*(?P<t>[^*]{12,})\*\*"),
    re.compile(r'"(?P<t>[^"]{12,})"'),
    re.compile(r"^\s*[-*]\s*\[\[[^\]]*\]\([^)]*\)\]\s*(?:\[[^\]]*\]\s*)*(?P<t>[^\[]{12,}?)\.?\s*(?:\[|<!--|$)"),
    re.compile(r"\[(?P<t>[^\]]{12,})\]\(https?://arxiv"),
    re.compile(r"^\s*-\s*(?P<t>[^<\[]{12,}?)\s*<br>"),
    re.compile(r"^\s*\d+\.\s*(?P<t>.{12,}?)\.\s"),
]


def records() -> list[dict]:
    """{id, title, abstract} of every real record in ../shared/data/arxiv."""
    from arxiv import _feed

    from papertrack.sources.arxiv import to_paper
    from papertrack.sources.snapshot import record_to_paper

    papers = []
    for name in ("oai-cs-2015-2016.jsonl", "oai-all-2023-03.jsonl"):
        with (SHARED / "arxiv" / name).open(encoding="utf-8") as f:
            papers += [record_to_paper(json.loads(line)) for line in f if line.strip()]
    for page in sorted((SHARED / "arxiv" / "api-responses").glob("arxiv_raw_start*.xml")):
        papers += [to_paper(r) for r in _feed.parse(page.read_bytes()).results]
    return [{"id": p.id, "title": p.title, "abstract": p.abstract} for p in papers]


def load_labels() -> dict[tuple[str, str], bool]:
    rows = (line for line in LABELS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#"))
    return {(r["id"], r["tag"]): r["label"] == "yes" for r in csv.DictReader(rows, delimiter="\t")}


def curated_titles() -> dict[str, list[str]]:
    """List file -> titles of its entries that link to arXiv."""
    out: dict[str, list[str]] = {}
    for name in CURATED:
        titles = []
        for line in (SHARED / "curated-lists" / name).read_text(encoding="utf-8").splitlines():
            if not re.search(r"arxiv\.org/(?:abs|pdf)/|arXiv:\d", line, re.IGNORECASE):
                continue
            for pattern in _TITLE:
                m = pattern.search(line)
                if m:
                    titles.append(" ".join(m.group("t").split()))
                    break
        out[name] = titles
    return out


def score(hits: dict[str, dict[str, str]], labels: dict, tags: list[str]) -> dict[str, dict]:
    """Per tag: hits, labelled hits, correct ones, unlabelled (id, evidence) pairs."""
    table = {t: {"hits": 0, "labelled": 0, "yes": 0, "unlabelled": []} for t in tags}
    for pid, found in hits.items():
        for tag, evidence in found.items():
            row = table.setdefault(tag, {"hits": 0, "labelled": 0, "yes": 0, "unlabelled": []})
            row["hits"] += 1
            if (pid, tag) in labels:
                row["labelled"] += 1
                row["yes"] += labels[(pid, tag)]
            else:
                row["unlabelled"].append((pid, evidence))
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", default=str(ROOT / "queries.yaml"))
    ap.add_argument("--show-misses", action="store_true", help="list labelled positives the taxonomy misses")
    ap.add_argument("--show-wrong", action="store_true", help="list hits labelled no, with their evidence")
    args = ap.parse_args()
    if not (SHARED / "arxiv" / "oai-cs-2015-2016.jsonl").exists():
        print(f"skipped: {SHARED} is absent (a fresh clone has no ../shared)")
        return 0

    config = load_config(args.queries)
    taxonomy = Taxonomy(config.taxonomy)
    naive = Taxonomy([TaxonomyRule(t, (p,)) for t, p in NAIVE.items()])
    tags = taxonomy.tags
    labels = load_labels()
    corpus = records()
    started = time.perf_counter()
    hits = {r["id"]: taxonomy.match(r["title"], r["abstract"]) for r in corpus}
    elapsed = time.perf_counter() - started
    naive_hits = {r["id"]: naive.match(r["title"], r["abstract"]) for r in corpus}
    ours, base = score(hits, labels, tags), score(naive_hits, labels, tags)
    positives = Counter(tag for (_, tag), yes in labels.items() if yes)

    print(
        f"{len(corpus)} real records; {len(labels)} hand-labelled (paper, tag) pairs "
        f"({sum(labels.values())} yes); taxonomy: {len(corpus) / elapsed:,.0f} records/s\n"
    )
    print(
        f"{'tag':<24} {'hits':>5} {'labelled':>8} {'precision':>9}   {'naive hits':>10} {'naive prec.':>11}   "
        f"{'pool recall':>11}"
    )
    for tag in tags:
        o, b = ours[tag], base.get(tag, {"hits": 0, "labelled": 0, "yes": 0})
        found = sum(1 for (pid, t), yes in labels.items() if yes and t == tag and tag in hits.get(pid, {}))
        print(
            f"{tag:<24} {o['hits']:>5} {o['labelled']:>8} {_ratio(o['yes'], o['labelled']):>9}   "
            f"{b['hits']:>10} {_ratio(b['yes'], b['labelled']):>11}   {_ratio(found, positives[tag]):>11}"
        )
    total = {k: sum(ours[t][k] for t in tags) for k in ("hits", "labelled", "yes")}
    print(f"{'all tags':<24} {total['hits']:>5} {total['labelled']:>8} {_ratio(total['yes'], total['labelled']):>9}")
    print("\nprecision = labelled-yes / labelled hits; pool recall = labelled positives the taxonomy finds")
    unlabelled = [(t, pid, ev) for t in tags for pid, ev in ours[t]["unlabelled"]]
    if unlabelled:
        print(f"\n{len(unlabelled)} hits have no label yet (add them to {LABELS.name}):")
        for tag, pid, ev in unlabelled:
            print(f"  {pid}\t{tag}\t{ev!r}")
    if args.show_wrong:
        print("\nhits labelled no:")
        for pid, found in sorted(hits.items()):
            for tag, evidence in found.items():
                if labels.get((pid, tag)) is False:
                    print(f"  {pid}\t{tag}\t{evidence!r}")
    if args.show_misses:
        print("\nlabelled positives the taxonomy misses:")
        for (pid, tag), yes in sorted(labels.items()):
            if yes and tag not in hits.get(pid, {}):
                print(f"  {pid}\t{tag}")

    print("\nrecall on curated-list titles (title only, no abstract: a lower bound):")
    for name, titles in curated_titles().items():
        want = CURATED[name]
        got = sum(1 for t in titles if want & set(taxonomy.match(t, "")))
        print(f"  {name:<52} {'/'.join(sorted(want)):<30} {got:>4}/{len(titles):<4} {_ratio(got, len(titles))}")
    return 0


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    sys.exit(main())
