"""arXiv's rewriting of search_query: arXiv's own cases, ours per rule, what is refused and
why, and the form a harvest sends (arxiv_form) meaning the same under arXiv's grouping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertrack.sources import arxiv_rewrite as rw
from papertrack.sources.arxiv_query import (
    Node,
    Not,
    Op,
    QuerySyntaxError,
    Record,
    Term,
    arxiv_form,
    arxiv_rewrite,
    evaluate,
    parse,
    reads_differently,
)
from tests.arxiv_cases import (
    CASES,
    DATE_CASES,
    DEVIATIONS,
    EXTRA_CASES,
    JOIN_CASES,
    REJECTED_AFTER_REWRITE,
    TOKEN_PASS_CASES,
    TOKENIZE_CASES,
    WORD_CASES,
    RawToken,
)
from tests.helpers import FIXTURES

STRING_STEPS = {"adapt_query": rw.rewrite, "fix_dates": rw.quote_date_ranges, "fix_aliases": lambda q: q}
TOKEN_STEPS = {
    "not_into_andnot": rw.not_to_andnot,
    "convert_prefixes": rw.rename_prefixes,
    "remove_prefixes_with_no_content": rw.drop_empty_prefixes,
    "fix_prefix_parends": rw.distribute_prefix,
    "fix_missing_prefixes": rw.add_missing_prefixes,
    "fix_missing_operators": rw.insert_missing_operators,
    "fix_author_underscores": rw.author_phrases,
    "fix_multiple_operators": rw.collapse_operators,
    "reformat": rw.reformat,
}


def tokens(raw: list[RawToken] | None) -> list[rw.Token]:
    return [rw.Token(rw.Kind(int(k)), str(t)) for k, t in raw or []]


def test_the_table_holds_all_of_arxivs_cases():
    tables = (CASES, DATE_CASES, WORD_CASES, TOKENIZE_CASES, TOKEN_PASS_CASES, JOIN_CASES)
    assert sum(map(len, tables)) == 100


@pytest.mark.parametrize("query, expected, note", CASES, ids=[c[2] for c in CASES])
def test_arxiv_string_cases(query, expected, note):
    step = note.split(":", 1)[0]
    if step == "fix_aliases":  # a step of rewrite_tokens; seen through the whole rewrite
        assert rw.rewrite(query) == "all:" + expected
    else:
        assert STRING_STEPS[step](query or "") == (expected or "")


@pytest.mark.parametrize("date, is_start, expected, must_equal, note", DATE_CASES, ids=[c[4] for c in DATE_CASES])
def test_arxiv_partial_date_cases(date, is_start, expected, must_equal, note):
    assert (rw.fill_partial_date(date or "", is_start) == (expected or "")) is must_equal


@pytest.mark.parametrize("query, expected, note", WORD_CASES, ids=[c[2] for c in WORD_CASES])
def test_arxiv_word_cases(query, expected, note):
    assert rw.split_words(query or "") == (expected or [])


@pytest.mark.parametrize("query, expected, note", TOKENIZE_CASES, ids=[c[2] for c in TOKENIZE_CASES])
def test_arxiv_tokenize_cases(query, expected, note):
    assert rw.tokenize(query or "") == tokens(expected)


@pytest.mark.parametrize("step, given_tokens, expected, note", TOKEN_PASS_CASES, ids=[c[3] for c in TOKEN_PASS_CASES])
def test_arxiv_token_pass_cases(step, given_tokens, expected, note):
    assert TOKEN_STEPS[step](tokens(given_tokens)) == tokens(expected)


@pytest.mark.parametrize("given_tokens, expected, note", JOIN_CASES, ids=[c[2] for c in JOIN_CASES])
def test_arxiv_join_cases(given_tokens, expected, note):
    assert rw.join_tokens(tokens(given_tokens)) == (expected or "")


@pytest.mark.parametrize("query, expected", [(q, e) for q, e, n in CASES if n.startswith("adapt_query") and q is not None])
def test_arxiv_end_to_end_cases_are_accepted_or_refused_as_arxiv_does(query, expected):
    if expected is None or query in REJECTED_AFTER_REWRITE:
        with pytest.raises(QuerySyntaxError):
            parse(query)
    else:
        parse(query)
        assert arxiv_rewrite(query) == expected


@pytest.mark.parametrize("query, rewritten, accepted, note", EXTRA_CASES, ids=[c[3] for c in EXTRA_CASES])
def test_rules_one_by_one(query, rewritten, accepted, note):
    if query in DEVIATIONS:
        rewritten, accepted, _ = DEVIATIONS[query]
    assert arxiv_rewrite(query) == (rewritten or "")
    if accepted:
        parse(query)
    else:
        with pytest.raises(QuerySyntaxError):
            parse(query)


@pytest.mark.parametrize(
    "query, message",
    [
        ("ti:(a", "unbalanced parentheses: a '(' is never closed (arXiv reads it as '(ti:a' and answers HTTP 400)"),
        ("(ti:a))", "unbalanced parentheses: a ')' closes nothing (arXiv reads it as '(ti:a) )' and answers HTTP 400)"),
        ("ti:a AND", "dangling operator: nothing follows 'AND' (arXiv answers HTTP 400)"),
        ("ti:a AND (au:b OR)", "dangling operator: nothing follows 'OR' (arXiv reads it as 'ti:a AND (au:b OR )' and answers HTTP 400)"),
        ("ti:()", "empty group '()' (arXiv reads it as '( )' and answers HTTP 400)"),
        ("OR ti:a", "'OR' has nothing on its left (arXiv answers HTTP 400)"),
        ("a AND NOT NOT b", "'NOT' cannot follow another operator (arXiv reads it as 'all:a NOT all:b' and answers HTTP 400)"),
        ("a ti: ti:b", "two operators in a row: 'OR' then 'OR' (arXiv reads it as 'all:a OR OR ti:b' and answers HTTP 400)"),
        ('ti:"a\\"', 'the quoted value "a\\" ends in a backslash (arXiv answers HTTP 400)'),
        ("au:", "nothing to search for in 'au:'"),
        ('submittedDate:"2020 TO 2021"', "bad date range submittedDate:'2020 TO 2021' (write submittedDate:[YYYYMMDD TO"),
    ],
)  # fmt: skip
def test_refusals_say_why_in_one_line(query, message):
    with pytest.raises(QuerySyntaxError) as err:
        parse(query)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_trees_follow_the_stand_ins_left_to_right_reading():
    a, b, c = (Term("all", x) for x in "abc")
    assert parse("a OR b AND c") == Op("AND", Op("OR", a, b), c)
    assert parse("NOT a AND b") == Op("AND", Not(a), b)
    assert parse("a (NOT b c)") == Op("OR", a, Op("OR", Not(b), c))
    assert parse("au:del_maestro") == Term("au", "del maestro", phrase=True)
    assert parse("lastUpdatedDate:[2007 TO 2008]") == Term("submitteddate", "200701010000 TO 200812312359", True)


@pytest.mark.parametrize(
    "query, form",
    [
        ("ti:a OR ti:b AND cat:cs.LG", "(ti:a OR ti:b) AND cat:cs.LG"),
        ("ti:a AND ti:b OR cat:cs.LG", "(ti:a AND ti:b) OR cat:cs.LG"),
        ("ti:a AND ti:b ANDNOT cat:cs.LG", "ti:a AND ti:b ANDNOT cat:cs.LG"),
        ("ti:a ANDNOT ti:b AND cat:cs.LG", "(ti:a ANDNOT ti:b) AND cat:cs.LG"),
        ("ti:a OR ti:b OR ti:c", "ti:a OR ti:b OR ti:c"),
        ("NOT ti:a AND ti:b", "(ANDNOT ti:a) AND ti:b"),
        ("ti:a AND (NOT ti:b)", "ti:a AND (ANDNOT ti:b)"),
        ("NOT ti:a", "ANDNOT ti:a"),
        ("ti:(space time) AND cat:cs.LG", "(ti:space OR ti:time) AND cat:cs.LG"),
    ],
)
def test_arxiv_form_makes_grouping_explicit_only_where_readings_differ(query, form):
    assert arxiv_form(query) == form


def test_reads_differently():
    assert not reads_differently("(ti:a OR ti:b) AND cat:cs.LG")
    assert not reads_differently("( ti:a OR ti:b )  AND cat:cs.LG")  # spacing only
    assert reads_differently("ti:quantization ti:pruning")
    assert reads_differently("ti:a OR ti:b AND cat:cs.LG")
    assert not reads_differently("ti:(a")  # refused: validation reports it


# ---------------------------------------------------------------- arxiv_form under arXiv's grammar


def right_nested(toks: list[rw.Token]) -> Node:
    """How arXiv's Lark grammar groups a rewritten query: binary operators nest to the right,
    a leading ANDNOT takes everything after it."""
    pos = 0

    def expression() -> Node:
        nonlocal pos
        if toks[pos].text == "ANDNOT":
            pos += 1
            return Not(expression())
        if toks[pos].text == "(":
            pos += 1
            left = expression()
            pos += 1  # ')'
        else:
            field, value = toks[pos].text[:-1].lower(), toks[pos + 1].text
            phrase = value.startswith('"')
            left, pos = Term(field, value.strip('"'), phrase), pos + 2
        if pos < len(toks) and toks[pos].kind is rw.Kind.OPERATOR:
            op = toks[pos].text
            pos += 1
            return Op(op, left, expression())
        return left

    return expression()


WORDS = ["binary", "network", "pruning", "latency"]
leaf = st.one_of(
    st.tuples(st.sampled_from(["ti", "abs", "all", ""]), st.sampled_from(WORDS)).map(
        lambda t: f"{t[0]}:{t[1]}" if t[0] else t[1]
    ),
    st.sampled_from(["cat:cs.LG", "cat:cs.*", "au:del_maestro", "submittedDate:[2019 TO 2019]"]),
)
queries = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR", "ANDNOT", "", "AND NOT"]), inner).map(lambda t: " ".join(t)),
        inner.map(lambda q: f"({q})"),
        inner.map(lambda q: f"(NOT {q})"),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda ws: f"ti:({' '.join(ws)})"),
    ),
    max_leaves=6,
)
records = st.lists(
    st.builds(
        lambda title, cats, year: Record(
            "1", " ".join(title), "", ["Ada del Maestro"], cats, None, None, f"{year}-06-01", ""
        ),
        st.lists(st.sampled_from(WORDS), max_size=3),
        st.lists(st.sampled_from(["cs.LG", "cs.CV", "math.OC"]), max_size=2),
        st.sampled_from([2018, 2019]),
    ),
    min_size=1,
    max_size=6,
)


def test_the_flat_rewrite_would_group_differently_on_arxiv():
    flat = rw.rewrite_tokens("ti:binary OR ti:network AND cat:cs.LG")
    rec = Record("1", "binary", "", [], ["math.OC"], None, None, "2019-01-01", "")
    assert not evaluate(parse("ti:binary OR ti:network AND cat:cs.LG"), rec)
    assert evaluate(right_nested(flat), rec)  # binary OR (network AND cs.LG): hence arxiv_form


@settings(deadline=None)
@given(query=queries, recs=records)
def test_arxiv_form_means_the_same_grouped_from_the_right(query, recs):
    tree = parse(query)
    form = arxiv_form(query)
    assert rw.split_words(rw.rewrite(form)) == rw.split_words(form)  # arXiv's rewriting leaves it alone
    assert parse(form) == tree
    arxiv_tree = right_nested(rw.rewrite_tokens(form))
    assert [evaluate(arxiv_tree, r) for r in recs] == [evaluate(tree, r) for r in recs]


def real_queries() -> list[str]:
    text = (FIXTURES / "real_arxiv_queries.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_real_queries_are_all_accepted():
    queries = real_queries()
    assert len(queries) >= 50
    refused = {}
    for q in queries:
        try:
            parse(arxiv_form(q))
        except QuerySyntaxError as e:
            refused[q] = str(e)
    assert refused == {}
    # most of them read differently on arXiv than a strict AND-by-default parser would think
    assert sum(map(reads_differently, queries)) >= 15
