"""queries.yaml: validation with file and line, and the shipped file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from papertrack.config import load_config, parse_config
from papertrack.errors import ConfigError
from tests.helpers import BASIC_QUERIES, write_queries

ROOT = Path(__file__).resolve().parents[1]

BAD = {
    "bad yaml": ("queries:\n  - name: x\n    source: arxiv\n    query: 'ti:a\n", 4, "invalid YAML"),
    "missing key": ("queries:\n  - name: x\n    source: arxiv\n    tags: [a]\n", 2, "query 'x': missing key 'query'"),
    "unknown source": ("queries:\n  - name: x\n    source: scholar\n    query: a\n", 2, "unknown source 'scholar'"),
    "duplicate name": (
        BASIC_QUERIES + "  - name: quantization\n    source: arxiv\n    query: ti:x\n",
        10,
        "duplicate query name 'quantization'",
    ),
    "bad name": ("queries:\n  - name: Big Name\n    source: arxiv\n    query: a\n", 2, "name must match"),
    "unknown key": ("queries:\n  - name: x\n    source: arxiv\n    query: a\n    tag: [a]\n", 2, "unknown key 'tag'"),
    "bad since": ("queries:\n  - name: x\n    source: arxiv\n    query: a\n    since: soon\n", 2, "since must be a date"),
    "bad query": ("queries:\n  - name: x\n    source: arxiv\n    query: '(ti:a OR'\n", 2, "query 'x': dangling operator"),
    "no queries": ("taxonomy: {}\n", 1, "expected a mapping with a 'queries:' list"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_files_name_file_line_and_problem(case):
    text, line, message = BAD[case]
    with pytest.raises(ConfigError) as err:
        parse_config(text, "q.yaml")
    assert err.value.line == line
    assert str(err.value).startswith(f"q.yaml:{line}: ")
    assert message in str(err.value)


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("command", [["queries"], ["harvest"], ["status"]])
def test_every_command_reading_a_bad_file_exits_2_with_one_line(run_cli, tmp_path, case, command):
    write_queries(tmp_path / "bad.yaml", BAD[case][0])
    result = run_cli(*command, "--queries", "bad.yaml")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: bad.yaml:{BAD[case][1]}: ")
    assert "Traceback" not in result.output


def test_missing_file(run_cli):
    result = run_cli("queries", "--queries", "nope.yaml")
    assert result.exit_code == 2 and "nope.yaml: cannot read file" in result.output


def test_defaults_and_select():
    config = parse_config("queries:\n  - name: a-1\n    source: arxiv\n    query: ti:x\n")
    assert config.queries[0].tags == ("a-1",)
    with pytest.raises(ConfigError, match="no query named 'zzz'"):
        config.select(["zzz"])


def test_shipped_queries_cover_the_topics_and_restrict_categories():
    config = load_config(ROOT / "queries.yaml")
    names = {q.name for q in config.queries}
    assert {
        "binarization",
        "quantization",
        "pruning",
        "distillation",
        "nas",
        "bert-compression",
        "sparse-training",
        "mobile-architectures",
    } <= names
    for q in config.queries:
        if q.source == "arxiv":
            assert "cat:cs." in q.query, q.name


def test_queries_command_lists(run_cli, tmp_path):
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    result = run_cli("queries")
    assert result.exit_code == 0
    assert "binarization" in result.output and "quantization, low-bit" in result.output
