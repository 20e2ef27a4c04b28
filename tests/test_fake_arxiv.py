"""Integration with the shared arXiv stand-in (../shared/tools/fake_arxiv.py) over real
records, with its fault injection. Skips in a fresh clone, where ../shared is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, start_fake_arxiv

pytestmark = pytest.mark.shared
CORPUS = "oai-cs-2015-2016.jsonl"


def harvest(tmp_path: Path, name: str, url: str, delay: str):
    env = {**os.environ, "PAPERTRACK_ARXIV_URL": url, "PAPERTRACK_ARXIV_DELAY": delay, "PAPERTRACK_ARXIV_PAGE_SIZE": "2"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "papertrack",
            "harvest",
            "--db",
            str(tmp_path / f"{name}.db"),
            "--queries",
            str(ROOT / "queries.yaml"),
            "--query",
            "binarization",
            "--query",
            "distillation",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def ids(tmp_path: Path, name: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(tmp_path / f"{name}.db") as conn:
        return {r[0] for r in conn.execute("select papers_id || '/' || queries_id from papers_queries")}


def test_faults_on_real_records_change_nothing_and_requests_stay_polite(tmp_path):
    proc, url, _ = start_fake_arxiv(tmp_path, "clean", CORPUS)
    try:
        clean = harvest(tmp_path, "clean", url, "0")
    finally:
        proc.kill()
    assert clean.returncode == 0, clean.stderr
    proc, url, log = start_fake_arxiv(
        tmp_path,
        "faulty",
        CORPUS,
        "--fail-every",
        "5",
        "--status-429-every",
        "7",
        "--empty-every",
        "4",
        "--truncate-every",
        "6",
        "--min-interval",
        "0.25",
    )
    try:
        faulty = harvest(tmp_path, "faulty", url, "0.25")
    finally:
        proc.kill()
    assert faulty.returncode == 0, faulty.stdout + faulty.stderr
    assert ids(tmp_path, "faulty") == ids(tmp_path, "clean") and len(ids(tmp_path, "clean")) >= 8
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["fault"] for e in entries} >= {"503", "429", "truncated"}
    assert not [e for e in entries if e["impolite"]], "requests closer than the delay"
