"""Precision and recall of the taxonomy in queries.yaml on real arXiv text.

    python bench/taxonomy_precision.py [--queries queries.yaml] [--show-misses] [--show-wrong]
                                       [--sample N] [--show-unlabelled]

Runs the taxonomy over the real records in ../shared/data/arxiv/ (the 2015-2016 cs OAI
harvest, one day of 2023 across all subjects, five pages of a 2025 cs query, and the
33,347 cs.AI listings of 2024) and scores its hits against the hand labels in
bench/taxonomy_labels.tsv. The compression tags were labelled on the first three (every
hit, and the naive baseline's); the inference-acceleration and deployment tags (NEW) on
a random sample of at most 40 hits each over all four (`--sample 40` prints the sample
to label: seeded, so the same hits come back). Side by side, the same for a naive
one-keyword-per-tag baseline (NAIVE below), to show what the patterns and exclusions
buy. Recall is estimated three times: within the labelled pool, on the titles of the
curated paper lists in ../shared/data/curated-lists/ (title only, so a lower bound), and
on the arXiv papers the newsletter's past issues picked under 论文 (../shared/data/newsletter/:
each entry's title, its 标题 line when it has one, and its summary as printed, mostly in
Chinese; the share that at least one tag catches, with the compression tags alone and
with every tag). Skips (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
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
# The tags for what the newsletter follows beyond compression: inference acceleration and deployment.
NEW = [
    "kernels", "compilers", "inference-engines", "accelerators", "speculative-decoding", "llm-serving",
    "efficient-training", "on-device", "tinyml",
]  # fmt: skip
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


def records() -> list:
    """Every real record in ../shared/data/arxiv, as `Paper`s (one per id)."""
    from arxiv import _feed

    from papertrack.sources.arxiv import to_paper
    from papertrack.sources.snapshot import record_to_paper

    papers = []
    for name in ("oai-cs-2015-2016.jsonl", "oai-all-2023-03.jsonl"):
        with (SHARED / "arxiv" / name).open(encoding="utf-8") as f:
            papers += [record_to_paper(json.loads(line)) for line in f if line.strip()]
    for page in sorted((SHARED / "arxiv" / "api-responses").glob("arxiv_raw_start*.xml")):
        papers += [to_paper(r) for r in _feed.parse(page.read_bytes()).results]
    with gzip.open(SHARED / "arxiv" / "recent-cs-2024.jsonl.gz", "rt", encoding="utf-8") as f:
        papers += [record_to_paper(json.loads(line)) for line in f if line.strip()]
    return list({p.id: p for p in papers}.values())


def newsletter_picks() -> list[tuple[str, str, str]]:
    """(arXiv id, title, text) of every paper the past issues picked under 论文: the
    entry's headline and 标题 line as the title, the whole entry as the text."""
    from papertrack.newsletter.past_issues import parse_issue

    picks: dict[str, tuple[str, str, str]] = {}
    for path in sorted((SHARED / "newsletter").glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        entries = parse_issue("\n".join(lines), str(path)).entries
        for e, nxt in zip(entries, [*entries[1:], None]):
            block = lines[e.line - 1 : (nxt.line - 1) if nxt else len(lines)]
            titles = [e.headline] + [
                re.sub(r"^\s*标题\s*[：:]\s*", "", b) for b in block if re.match(r"^\s*标题\s*[：:]", b)
            ]
            if e.paper and e.paper not in picks:
                picks[e.paper] = (e.paper, " ".join(titles), "\n".join(block))
    return list(picks.values())


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
    ap.add_argument("--show-unlabelled", action="store_true", help="list the hits that have no label")
    ap.add_argument(
        "--sample", type=int, metavar="N", help="print a seeded random sample of N hits of each NEW tag, to label"
    )
    args = ap.parse_args()
    if not (SHARED / "arxiv" / "oai-cs-2015-2016.jsonl").exists():
        print(f"skipped: {SHARED} is absent (a fresh clone has no ../shared)")
        return 0

    config = load_config(args.queries)
    taxonomy = Taxonomy(config.taxonomy)
    naive = Taxonomy([TaxonomyRule(t, (p,)) for t, p in NAIVE.items()])
    tags = taxonomy.tags
    labels = load_labels()
    papers = records()
    corpus = [{"id": p.id, "title": p.title, "abstract": p.abstract} for p in papers]
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
    print(f"\n{len(unlabelled)} hits have no label (the compression tags' on the 2024 listings; NEW tags beyond "
          "their sample): --show-unlabelled lists them")  # fmt: skip
    if args.sample:
        by_id = {r["id"]: r for r in corpus}
        for tag in NEW:
            found = sorted(pid for pid, f in hits.items() if tag in f)
            for pid in random.Random(f"sample-{tag}").sample(found, min(args.sample, len(found))):
                r = by_id[pid]
                label = {True: "yes", False: "no"}.get(labels.get((pid, tag)), "?")  # type: ignore[arg-type]
                print(f"\n{pid}\t{tag}\t{label}\t{r['title']}\n  evidence: {hits[pid][tag]!r}\n  {r['abstract'][:700]}")
    if unlabelled and args.show_unlabelled:
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

    query_tags(config, papers, hits, labels, ours)

    picks = newsletter_picks()
    core = [t for t in tags if t not in NEW]
    caught = {label: sum(1 for _, title, text in picks if set(taxonomy.match(title, text)) & set(chosen))
              for label, chosen in (("compression tags", core), ("every tag", tags))}  # fmt: skip
    print(f"\nrecall on the {len(picks)} arXiv papers the newsletter's 44 past issues picked (title + entry text):")
    for label, n in caught.items():
        print(f"  caught by at least one of the {label:<17} {n:>3}/{len(picks)} {_ratio(n, len(picks))}")
    if args.show_misses:
        for pid, title, text in picks:
            if not taxonomy.match(title, text):
                print(f"  missed: {pid} {title[:100]}")

    print("\nrecall on curated-list titles (title only, no abstract: a lower bound):")
    for name, titles in curated_titles().items():
        want = CURATED[name]
        got = sum(1 for t in titles if want & set(taxonomy.match(t, "")))
        print(f"  {name:<52} {'/'.join(sorted(want)):<30} {got:>4}/{len(titles):<4} {_ratio(got, len(titles))}")
    return 0


def query_tags(config, papers: list, hits: dict, labels: dict, ours: dict) -> None:
    """The NEW tags as a harvest gives them: a saved query gives its tag to every paper it
    matches (arXiv's query language, run here by `match`'s matcher), the taxonomy by its
    patterns. Precision of the query's own hits (those the taxonomy does not give; every one
    labelled) and of the tag as given (both sets, each weighted by its precision)."""
    from papertrack.ingest.local_match import saved_query_text
    from papertrack.store.page_match import match_records

    queries = [q for q in config.queries if q.source == "arxiv" and set(q.tags) & set(NEW)]
    matched = match_records(papers, {q.name: saved_query_text(q) for q in queries})
    print(f"\nthe saved queries' tags over the same {len(papers):,} records (taxonomy hits as above):")
    print(f"{'query':<22} {'hits':>5} {'not taxonomy':>12} {'labelled':>8} {'precision':>9}   {'tag as given':>12}")
    for q in queries:
        tag = next(t for t in q.tags if t in NEW)
        own = [i for i in matched[q.name] if tag not in hits.get(i, {})]
        judged = [labels[(i, tag)] for i in own if (i, tag) in labels]
        tax = ours[tag]
        tax_precision = tax["yes"] / tax["labelled"] if tax["labelled"] else 0.0
        own_precision = sum(judged) / len(judged) if judged else 0.0
        given = tax["hits"] + len(own)
        estimate = (tax["hits"] * tax_precision + len(own) * own_precision) / given if given else 0.0
        print(
            f"{q.name:<22} {len(matched[q.name]):>5} {len(own):>12} {len(judged):>8} "
            f"{_ratio(sum(judged), len(judged)):>9}   {estimate:>12.2f}"
        )


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    sys.exit(main())
