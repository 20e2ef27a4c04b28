"""queries.yaml: validation with file and line, and the shipped file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from papertrack.config import load_config, parse_config
from papertrack.errors import ConfigError
from tests.helpers import BASIC_QUERIES, write_queries

ROOT = Path(__file__).resolve().parents[1]
ONE = "queries:\n  - name: x\n    source: arxiv\n    query: ti:a\n"

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
    # values of the wrong type or beyond the bounds: never a TypeError, RecursionError or MemoryError
    "title_filter list": (ONE + "    title_filter: [a, b]\n", 2, "title_filter must be one regular expression"),
    "title_filter number": (ONE + "    title_filter: 5\n", 2, "title_filter must be one regular expression"),
    "name a list": ("queries:\n  - name: [a]\n    source: arxiv\n    query: a\n", 2, "query: 'name' must be text"),
    "query a number": ("queries:\n  - name: x\n    source: arxiv\n    query: 5\n", 2, "query 'x': 'query' must be text"),
    "impossible since": (ONE + "    since: 2020-13-45\n", 5, "'2020-13-45' is not a date (month must be in 1..12)"),
    "impossible since in february": (ONE + "    since: 2021-02-29\n", 5, "'2021-02-29' is not a date (day is out of range"),
    "taxonomy a number": (ONE + "taxonomy: 5\n", 5, "taxonomy must map tags to patterns"),
    "since a list": (ONE + "    since: [2020-01-01]\n", 2, "since must be a date"),
    "since not in the calendar": (ONE + "    since: 2020-02-30\n", 5, "'2020-02-30' is not a date (day is out of range"),
    "since at hour 25": (ONE + "    since: 2020-01-01 25:00:00\n", 5, "is not a date (hour must be in 0..23)"),
    "nested parentheses": (
        "queries:\n  - name: x\n    source: arxiv\n    query: '" + "(" * 5000 + "ti:a" + ")" * 5000 + "'\n",
        2,
        "at most 4,000 are read",
    ),
    "deep parentheses": (
        "queries:\n  - name: x\n    source: arxiv\n    query: '" + "(" * 40 + "ti:a" + ")" * 40 + "'\n",
        2,
        "nests parentheses more than 16 deep",
    ),
    "many terms": ("queries:\n  - name: x\n    source: arxiv\n    query: '" + "a " * 1500 + "'\n", 2, "at most 400"),
    "deep yaml": ("queries: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 16 levels deep"),
    "alias bomb": (
        "".join(f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefg", "bcdefgh")).replace(
            "b: &b [*a", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a", 1
        )
        + ONE
        + "    since: *h\n",
        6,
        "more than 100,000 values (aliases expanded)",
    ),
    "self alias": ("queries: &a [*a]\n", 1, "a YAML alias refers to itself"),
    "self alias deeper": (ONE + "    tags: &t [a, [b, *t]]\n", 5, "a YAML alias refers to itself"),
    "self alias in a mapping": ("queries:\n  - &q\n    name: x\n    source: arxiv\n    more: *q\n", 2, "refers to itself"),
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


def test_a_file_beyond_the_size_bound_is_refused_unread(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(ONE.replace("ti:a", "'" + "ti:a OR " * 200_000 + "ti:b'"))
    with pytest.raises(ConfigError, match=r"q.yaml: larger than 1,000,000 bytes"):
        load_config(path)


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


# what papertrack refused before it rewrote queries as arXiv does; arXiv accepts them all
ARXIV_ACCEPTS = {
    "partial-years": "cat:cs.LG AND submittedDate:[2007 TO 2008]",
    "partial-months": "ti:pruning AND lastUpdatedDate:[202001 TO 202002]",
    "quoted-range": 'ti:pruning AND submittedDate:"202001010000 TO 202002292359"',
    "doi": "doi:10.1145/3386263.3407650",
    "report-number": "rn:CERN-TH-2020-001",
    "repeated-operators": "ti:a AND AND AND ti:b",
    "leading-andnot": "(ANDNOT ti:x) AND cat:cs.LG",
    "no-operator": "ti:quantization ti:pruning",
    "field-over-group": "ti:(space time) AND cat:cs.LG",
    "author-phrase": "au:del_maestro",
}


def queries_file(queries: dict[str, str]) -> str:
    return "queries:\n" + "".join(
        f"  - name: {name}\n    source: arxiv\n    query: '{q.replace(chr(39), chr(39) * 2)}'\n"
        for name, q in queries.items()
    )


def test_queries_arxiv_accepts_are_accepted_and_explained(run_cli, tmp_path):
    write_queries(tmp_path / "queries.yaml", queries_file(ARXIV_ACCEPTS))
    listed = run_cli("queries")
    assert listed.exit_code == 0, listed.output
    differ = "partial-years, partial-months, repeated-operators, no-operator, field-over-group, author-phrase"
    assert listed.output.strip().splitlines()[-1] == (
        f"arXiv reads 6 queries differently from how they are written ({differ}): see papertrack queries --explain"
    )
    explained = run_cli("queries", "--explain")
    assert explained.exit_code == 0
    blocks = explained.output.strip().split("\n")
    assert blocks[:3] == [
        "partial-years (arxiv)",
        "  as written:     cat:cs.LG AND submittedDate:[2007 TO 2008]",
        '  as arXiv reads: cat:cs.LG AND submittedDate:"200701010000 TO 200812312359"',
    ]
    assert "  as arXiv reads: ti:quantization OR ti:pruning" in blocks
    assert '  as arXiv reads: au:"del maestro"' in blocks
    assert "  as arXiv reads: (ti:space OR ti:time) AND cat:cs.LG" in blocks


@pytest.mark.parametrize(
    "query, reason",
    [
        ("ti:a AND (cat:cs.LG", "unbalanced parentheses: a '(' is never closed (arXiv answers HTTP 400)"),
        ("ti:a AND", "dangling operator: nothing follows 'AND' (arXiv answers HTTP 400)"),
        ("ti:a AND ()", "empty group '()' (arXiv reads it as 'ti:a AND ( )' and answers HTTP 400)"),
        ("submittedDate:[2020-01-01 TO 2021]", "bad date range submittedDate:"),
    ],
)
def test_queries_arxiv_refuses_name_file_line_and_reason(run_cli, tmp_path, query, reason):
    write_queries(tmp_path / "q.yaml", queries_file({**ARXIV_ACCEPTS, "bad": query}))
    result = run_cli("queries", "--queries", "q.yaml")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: q.yaml:{2 + 3 * len(ARXIV_ACCEPTS)}: query 'bad': {reason}")
    assert len(result.output.strip().splitlines()) == 1
