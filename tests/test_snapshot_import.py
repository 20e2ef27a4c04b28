"""import-snapshot end to end: CLI -> file -> SQLite, re-import, resume after SIGKILL."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papertrack.ingest.snapshot import Filter, import_snapshot
from papertrack.sources.snapshot import file_identity, read_chunks, record_to_paper
from papertrack.store.schema import open_db, transaction
from papertrack.store.tags import refresh_tags
from tests.helpers import requires_shared, write_queries

DAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def record(n: int, **kw) -> dict:
    """A record in the layout of arXiv's snapshot (Kaggle's arxiv-metadata-oai-snapshot.json)."""
    month = 1 + n % 12
    rec = {
        "id": f"2{month:03d}.{n:05d}",
        "submitter": "Ada Lovelace",
        "authors": "Ada Lovelace, Bal\\'azs Szegedy and Author " + str(n),
        "title": f"Binary neural networks\n  number {n}",
        "comments": "Accepted at CVPR 2020. Code: https://github.com/example/bnn" if n % 2 else None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG cs.CV" if n % 3 else "math.OC",
        "license": None,
        "abstract": f"  We propose binary neural network {n} for compression.\nIt reduces size by 10x.\n",
        "versions": [{"version": "v1", "created": f"{DAY[n % 7]}, {1 + n % 28} Mar 2020 10:00:00 GMT"}],
        "update_date": "2020-03-30",
        "authors_parsed": [["Lovelace", "Ada", ""], ["Szegedy", "Bal{\\'a}zs", ""], ["Author", str(n), ""]],
    }
    rec.update(kw)
    return rec


def write_snapshot(path: Path, records, extra_lines: dict[int, str] | None = None, gz: bool = False) -> Path:
    lines = [json.dumps(r) for r in records]
    for at, text in sorted((extra_lines or {}).items()):
        lines.insert(at - 1, text)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_a_record_becomes_the_paper_the_api_gives():
    rec = record(
        4,
        versions=[
            {"version": "v1", "created": "Mon, 2 Mar 2020 10:00:00 GMT"},
            {"version": "v3", "created": "Tue, 24 Nov 2020 20:10:27 GMT"},
        ],
        **{"journal-ref": "Phys.Rev.D76:013009,2007", "doi": "10.1103/X"},
    )
    p = record_to_paper(rec)
    assert (p.id, p.version, p.published, p.updated) == ("2005.00004", 3, "2020-03-02T10:00:00Z", "2020-11-24T20:10:27Z")
    assert p.title == "Binary neural networks number 4" and p.abstract.startswith("We propose binary")
    assert p.authors == ["Ada Lovelace", "Balázs Szegedy", "4 Author"]  # order kept, LaTeX decoded
    assert (p.categories, p.primary_category) == (["cs.LG", "cs.CV"], "cs.LG")
    assert (p.journal_ref, p.doi, p.url) == ("Phys.Rev.D76:013009,2007", "10.1103/X", "https://arxiv.org/abs/2005.00004")


@pytest.mark.shared
@pytest.mark.parametrize(
    "paper_id, response",
    [
        ("quant-ph/0201082", "id_quant-ph_0201082v1_s0_m100_86989fe779ef.xml"),
        ("1602.05618", "q_testing_s0_m100_cfe7536492ca.xml"),
    ],
)
def test_fields_agree_with_a_recorded_api_response(paper_id, response):
    from arxiv import _feed

    from papertrack.sources.arxiv import to_paper

    body = requires_shared("data", "arxiv", "api-responses", response).read_bytes()
    [api] = [p for p in map(to_paper, _feed.parse(body).results) if p.id == paper_id]
    corpus = requires_shared("data", "arxiv", "oai-cs-2015-2016.jsonl").read_text(encoding="utf-8")
    [line] = [line for line in corpus.splitlines() if f'"id": "{paper_id}"' in line]
    snap = record_to_paper(json.loads(line))
    same = (
        "id",
        "title",
        "abstract",
        "authors",
        "categories",
        "primary_category",
        "version",
        "comment",
        "journal_ref",
        "doi",
    )
    assert {f: getattr(snap, f) for f in same} == {f: getattr(api, f) for f in same}
    assert snap.published[:10] == api.published[:10]  # the OAI-derived corpus keeps dates only


def test_import_keeps_categories_and_dates_and_derives_like_a_harvest(run_cli, tmp_path):
    write_queries(tmp_path / "queries.yaml", "queries: []\ntaxonomy:\n  binarization: ['binary neural networks?']\n")
    records = [record(n) for n in range(1, 13)]
    records[0]["versions"] = [{"version": "v1", "created": "Sun, 1 Dec 2019 10:00:00 GMT"}]
    write_snapshot(tmp_path / "snap.jsonl", records)
    result = run_cli("import-snapshot", "snap.jsonl", "--category", "cs.LG", "--since", "2020-01-01")
    assert result.exit_code == 0, result.output
    kept = [r for r in records[1:] if "cs.LG" in r["categories"]]
    assert [line.split() for line in result.output.splitlines()[2:3]] == [
        ["12", str(len(kept)), str(len(kept)), "0", "0", "0"]
    ]
    db = open_db(tmp_path / "db" / "papers.db")
    assert {r["id"] for r in db.query("select id from papers")} == {r["id"] for r in kept}
    row = db["papers"].get(records[4]["id"])  # an odd one: it has a comment
    assert row["summary"] == "We propose binary neural network 5 for compression. It reduces size by 10x."
    assert (row["venue"], row["venue_source"], row["code_url"]) == ("CVPR 2020", "arxiv", "https://github.com/example/bnn")
    authors = [
        r[0]
        for r in db.execute(
            "select a.name from papers_authors pa join authors a on a.id = pa.authors_id where papers_id = ? order by position",
            [row["id"]],
        )
    ]
    assert authors == json.loads(row["authors"]) == ["Ada Lovelace", "Balázs Szegedy", "5 Author"]
    tags = db.execute(
        "select t.name, pt.origin, pt.evidence from papers_tags pt join tags t on t.id = pt.tags_id where papers_id = ?",
        [row["id"]],
    ).fetchall()
    assert tags == [("binarization", "taxonomy", "Binary neural networks")]
    hits = db.execute("select count(*) from papers_fts where papers_fts match 'szegedy'").fetchone()[0]
    assert hits == len(kept)
    # every record has the same key base: unique keys, the earliest submitted gets the bare one
    keys = dict(db.execute("select citation_key, id from papers order by published, id").fetchall())
    earliest = min(kept, key=lambda r: (record_to_paper(r).published, r["id"]))["id"]
    assert len(keys) == len(kept) and keys["lovelace2020binary"] == earliest
    assert set(keys) == {
        "lovelace2020binary",
        *(f"lovelace2020binary{c}" for c in "abcdefghijklmnopqrstuvwxyz"[: len(kept) - 1]),
    }
    db.execute("insert into papers_fts(papers_fts) values ('integrity-check')")


def test_gzip_and_bad_lines_are_reported_by_line_and_skipped(run_cli, tmp_path):
    write_snapshot(
        tmp_path / "snap.jsonl.gz",
        [record(n) for n in range(1, 6)],
        {2: '{"id": "2001.99999", "title": "cut off', 4: "[1, 2]", 5: '{"id": "2002.1"}', 7: ""},
        gz=True,
    )
    result = run_cli("import-snapshot", "snap.jsonl.gz")
    assert result.exit_code == 0, result.output
    assert "snap.jsonl.gz:2: skipped: malformed JSON" in result.output
    assert "snap.jsonl.gz:4: skipped: not a snapshot record (not a JSON object)" in result.output
    assert "snap.jsonl.gz:5: skipped: not a snapshot record (record has no id or title)" in result.output
    assert [line.split() for line in result.output.splitlines() if line.strip().startswith("8")] == [
        ["8", "5", "5", "0", "0", "3"]
    ]


def test_not_a_snapshot_is_one_line_and_exit_2(run_cli, tmp_path):
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    result = run_cli("import-snapshot", "notes.txt")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: notes.txt:1: not an arXiv snapshot: malformed JSON (Expecting value, column 1)"
    assert run_cli("import-snapshot", "missing.jsonl").output.strip() == "Error: missing.jsonl: No such file or directory"
    assert (
        run_cli("import-snapshot", "notes.txt", "--since", "2020-31-01").output
        == "Error: Invalid value for '--since': '2020-31-01' is not a date (YYYY-MM-DD)\n"
    )


def test_reimporting_a_newer_snapshot_updates_and_adds_and_keeps_editorial_data(db, tmp_path):
    first = [record(n) for n in range(1, 7)]
    import_snapshot(db, write_snapshot(tmp_path / "2024.jsonl", first))
    pid = first[0]["id"]
    with transaction(db):  # an editor's work on a paper (the rows `papertrack tag/note/pick` write)
        db["notes"].insert({"papers_id": pid, "summary": "The editor's summary.", "headline": "BNN"})
        db["picks"].insert({"papers_id": pid, "issue": "2024-05-01", "picked": "2024-04-28T00:00:00Z"})
        db["tag_edits"].insert({"papers_id": pid, "tag": "must-read", "action": "add", "at": "2024-04-28T00:00:00Z"})
        refresh_tags(db, [pid])
    newer = [dict(r) for r in first] + [record(n) for n in (7, 8)]
    newer[0].update(
        title="Binary neural networks, revised",
        versions=[*first[0]["versions"], {"version": "v2", "created": "Wed, 1 Jul 2020 08:00:00 GMT"}],
    )
    report = import_snapshot(db, write_snapshot(tmp_path / "2025.jsonl", newer))
    assert (report.read, report.new, report.updated, report.unchanged) == (8, 2, 1, 5)
    assert db["papers"].count == 8 and db.execute("select count(distinct id) from papers").fetchone()[0] == 8
    row = db["papers"].get(pid)
    assert (row["title"], row["version"], row["summary"]) == ("Binary neural networks, revised", 2, "The editor's summary.")
    assert db["picks"].count == 1 and db["notes"].count == 1
    assert [
        r[0]
        for r in db.execute("select t.name from papers_tags pt join tags t on t.id = pt.tags_id where papers_id = ?", [pid])
    ] == ["must-read"]
    assert db.execute("select count(*) from papers_authors where papers_id = ?", [pid]).fetchone()[0] == 3
    assert db.execute("select count(*) from papers_fts where papers_fts match 'revised'").fetchone()[0] == 1
    again = import_snapshot(db, tmp_path / "2025.jsonl")
    assert again.already_done and db["papers"].count == 8


def test_an_interrupted_import_resumes_after_its_last_commit(db, tmp_path):
    path = write_snapshot(tmp_path / "snap.jsonl", [record(n) for n in range(1, 15)])

    def stop(report, chunk):
        if chunk.first_line == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_snapshot(db, path, batch=4, on_chunk=stop)
    assert db["papers"].count == 8
    state = db.execute("select status, line, read from imports").fetchone()
    assert state == ("running", 8, 8)
    report = import_snapshot(db, path)
    assert (report.resumed_after, report.read, report.new, report.read_now) == (8, 14, 14, 6)
    assert db["papers"].count == 14 and db["papers_authors"].count == 42
    assert db.execute("select status from imports").fetchone()[0] == "done"


def test_a_changed_filter_starts_the_file_over(db, tmp_path):
    path = write_snapshot(tmp_path / "snap.jsonl", [record(n) for n in range(1, 7)])
    assert import_snapshot(db, path, keep=Filter(("math.",))).kept == 2
    report = import_snapshot(db, path, keep=Filter(("cs.",)))
    assert (report.read, report.kept, report.new) == (6, 4, 4)


def test_chunks_resume_at_their_byte_offset(tmp_path):
    path = write_snapshot(tmp_path / "s.jsonl.gz", [record(n) for n in range(1, 8)], gz=True)
    chunks = list(read_chunks(path, size=3))
    assert [c.first_line for c in chunks] == [1, 4, 7]
    rest = list(read_chunks(path, chunks[0].end_offset, 3, size=3))
    assert [(c.first_line, c.lines) for c in rest] == [(c.first_line, c.lines) for c in chunks[1:]]
    assert file_identity(path) != file_identity(write_snapshot(tmp_path / "t.jsonl.gz", [record(1)], gz=True))


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("workers", ["0", "2"])
def test_killed_process_resumes_without_duplicates(tmp_path, workers):
    """A real SIGKILL mid-import (with a parsing child, too): the rerun finishes the file,
    nothing lost or doubled, the search index whole, no orphaned child left running."""
    path = write_snapshot(tmp_path / "snap.jsonl", [record(n) for n in range(1, 3001)])
    env = {**os.environ, "PAPERTRACK_IMPORT_BATCH": "100"}
    cmd = [
        sys.executable,
        "-m",
        "papertrack",
        "import-snapshot",
        str(path),
        "--db",
        str(tmp_path / "p.db"),
        "--workers",
        workers,
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = open_db(tmp_path / "p.db")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = db.execute("select line from imports").fetchone() if db["imports"].exists() else None
        if row and row[0] >= 300:
            break
        time.sleep(0.02)
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 300 <= db.execute("select line from imports").fetchone()[0] < 3000, "the import was not killed midway"
    deadline = time.monotonic() + 10
    while any(map(_alive, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, children)), "a parsing process outlived its parent"
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resumed after line" in done.stdout
    db = open_db(tmp_path / "p.db")
    assert db["papers"].count == 3000 and db.execute("select count(distinct id) from papers").fetchone()[0] == 3000
    assert db.execute("select count(distinct lower(citation_key)) from papers").fetchone()[0] == 3000
    assert db["papers_authors"].count == 9000
    db.execute("insert into papers_fts(papers_fts) values ('integrity-check')")
    assert db.execute("select count(*) from papers_fts where papers_fts match 'lovelace'").fetchone()[0] == 3000
    assert db.execute("select status, read, new from imports").fetchone() == ("done", 3000, 3000)


def test_progress_bar_shows_bytes_and_records_on_a_terminal(tmp_path, monkeypatch):
    import io

    from papertrack.cli.output import ImportProgress
    from papertrack.ingest.snapshot import SnapshotReport
    from papertrack.sources.snapshot import Chunk

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    path = write_snapshot(tmp_path / "s.jsonl", [record(n) for n in range(1, 200)])
    size = path.stat().st_size
    with ImportProgress(str(path)) as progress:
        progress.update(SnapshotReport(str(path), read=120_345), Chunk(1, [], size // 2, size // 2))
        for n in range(1, 23):
            progress.bad(n, "malformed JSON")
    out = screen.getvalue()
    assert (
        "importing" in out
        and "49%" in out
        and f"120,345 records, {size // 2 / 1024:,.0f} KB of {size / 1024:,.0f} KB" in out
    )
    assert f"KB\n{path}:1: skipped: malformed JSON\n" in out  # on a line of its own, not after the bar
    assert f"{path}:20: skipped: malformed JSON" in out and f"{path}:21:" not in out and "2 more bad lines" in out


def test_an_import_folds_a_dblp_row_into_its_preprint(db, tmp_path):
    """A venue-only `dblp:` row (from a DBLP query) whose preprint arrives by import is merged
    into it, as a harvest merges it: venue, citation key, notes and manual tags move over."""
    from papertrack.models import Paper
    from papertrack.store.papers import save_papers

    row_id = "dblp:conf/cvpr/Lovelace20"
    with transaction(db):
        save_papers(
            db,
            [
                Paper(
                    id=row_id,
                    title="Binary Neural Networks Number 5.",
                    authors=["Ada Lovelace", "B. Szegedy"],
                    venue="CVPR 2020",
                    venue_type="conference",
                    year=2020,
                )
            ],
            venue_source="dblp",
            citation_keys={row_id: "lovelace2020cvpr"},
        )
        db.execute("update papers set dblp_key = 'conf/cvpr/Lovelace20' where id = ?", [row_id])  # as linking sets it
        db["notes"].insert({"papers_id": row_id, "headline": "BNN at CVPR"})
        db["tag_edits"].insert({"papers_id": row_id, "tag": "must-read", "action": "add", "at": "2020-06-01T00:00:00Z"})
        refresh_tags(db, [row_id])
    records = [record(n, comments=None) for n in (4, 5, 6)]
    import_snapshot(db, write_snapshot(tmp_path / "snap.jsonl", records))
    assert db.execute("select count(*) from papers where id like 'dblp:%'").fetchone()[0] == 0
    assert db["papers"].count == 3
    row = db["papers"].get(records[1]["id"])
    assert (row["venue"], row["venue_source"], row["dblp_key"]) == ("CVPR 2020", "dblp", "conf/cvpr/Lovelace20")
    assert row["citation_key"] == "lovelace2020cvpr"
    assert db["notes"].get(row["id"])["headline"] == "BNN at CVPR"
    assert [
        r[0]
        for r in db.execute(
            "select t.name from papers_tags pt join tags t on t.id = pt.tags_id where papers_id = ?", [row["id"]]
        )
    ] == ["must-read"]
