"""arXiv's own test cases for its rewriting of search_query, as a table, and our cases per rule.

ARXIV TABLES (CASES ... JOIN_CASES): all 100 cases of arXiv/arxiv-search (MIT licence,
Copyright Cornell University) `search/domain/classic_api/tests/test_classic_search_query.py`,
written from that file with arXiv's expected values byte for byte; each note keeps arXiv's
table name and index. `None` is arXiv's "no value" (a missing or empty query); our
functions take and return '' / [] for it. arXiv's test of `adapt_query` stops at the
rewrite; two of those rewrites are then refused by arXiv's grammar (HTTP 400):
REJECTED_AFTER_REWRITE.

EXTRA_CASES: more end-to-end cases, one or more per rule, (query, arXiv's rewrite or None
when nothing is left, accepted by arXiv's grammar, note); the expected values were produced
by running arXiv's code (adapt_query and its Lark grammar). Where papertrack deliberately
differs, the row says DEVIATION and DEVIATIONS gives our value.
"""

from __future__ import annotations

PREFIX = 1
LEFT_PAREND = 2
OPERATOR = 3
RIGHT_PAREND = 4
TEXT = 5

RawToken = list[int | str]

# ---------------------------------------------------------------- string -> string
# (input, expected output of the arXiv function named at the start of the note, note)
CASES: list[tuple[str | None, str | None, str]] = [
    # ADAPT_QUERIES -- adapt_query, the whole rewrite ("Full black-box tests")
    (None, None, "adapt_query: ADAPT_QUERIES[0] missing search_query stays missing"),
    ("", None, "adapt_query: ADAPT_QUERIES[1] empty query rewrites to nothing (400 without id_list)"),
    ("a", "all:a", "adapt_query: ADAPT_QUERIES[2] a bare word gets all:"),
    ("AND AND AND", "AND", "adapt_query: ADAPT_QUERIES[3] repeated operators collapse to the last"),
    ("a AND AND AND b", "all:a AND all:b", "adapt_query: ADAPT_QUERIES[4] repeated operators collapse"),
    ("a AND au:", "all:a AND", "adapt_query: ADAPT_QUERIES[5] a prefix with no text is dropped"),
    # DATE_RANGES -- fix_dates only (the date step, before tokenising)
    (None, None, "fix_dates: DATE_RANGES[0] missing query"),
    ("", "", "fix_dates: DATE_RANGES[1] empty query"),
    ("a", "a", "fix_dates: DATE_RANGES[2] no date range"),
    (
        "submittedDate:[199102130930 TO 202204050630]",
        'submittedDate:"199102130930 TO 202204050630"',
        "fix_dates: DATE_RANGES[3] [A TO B] becomes a quoted range",
    ),
    (
        'submittedDate:"199102130930 TO 202204050630"',
        'submittedDate:"199102130930 TO 202204050630"',
        "fix_dates: DATE_RANGES[4] the quoted form is left alone",
    ),
    (
        "submittedDate:[1991 TO 2022]",
        'submittedDate:"199101010000 TO 202212312359"',
        "fix_dates: DATE_RANGES[5] years: start of first, end of last",
    ),
    (
        "a submittedDate:[1991 TO 2022] b",
        'a submittedDate:"199101010000 TO 202212312359" b',
        "fix_dates: DATE_RANGES[6] range inside a longer query",
    ),
    # ALIASES -- fix_aliases only
    (
        "JUNKlastUpdatedDate:JUNK",
        "JUNKsubmittedDate:JUNK",
        "fix_aliases: ALIASES[0] lastUpdatedDate: is replaced wherever it occurs",
    ),
]

#: Inputs of CASES (adapt_query) whose rewrite arXiv's grammar then refuses (HTTP 400).
REJECTED_AFTER_REWRITE: dict[str, str] = {
    "AND AND AND": "rewrites to 'AND': an operator with no operands",
    "a AND au:": "rewrites to 'all:a AND': a dangling operator",
}

# ---------------------------------------------------------------- fill_in_partial_dates
# (date, is_start, expected, must_equal, note); must_equal False = arXiv's assertNotEqual
DATE_CASES: list[tuple[str | None, bool, str | None, bool, str]] = [
    # PARTIAL_START_DATES (is_start=True)
    (None, True, None, True, "PARTIAL_START_DATES[0] missing"),
    ("", True, "", True, "PARTIAL_START_DATES[1] empty"),
    ("a", True, "a", True, "PARTIAL_START_DATES[2] not digits: unchanged"),
    ("1", True, "1", True, "PARTIAL_START_DATES[3] 1 digit: unchanged"),
    ("199102130930", True, "199102130930", True, "PARTIAL_START_DATES[4] yyyymmddhhmm: unchanged"),
    ("19910213", True, "199102130000", True, "PARTIAL_START_DATES[5] yyyymmdd -> 0000"),
    ("199102", True, "199102010000", True, "PARTIAL_START_DATES[6] yyyymm -> 01 0000"),
    ("1991", True, "199101010000", True, "PARTIAL_START_DATES[7] yyyy -> 0101 0000"),
    # PARTIAL_END_DATES (is_start=False)
    (None, False, None, True, "PARTIAL_END_DATES[0] missing"),
    ("", False, "", True, "PARTIAL_END_DATES[1] empty"),
    ("a", False, "a", True, "PARTIAL_END_DATES[2] not digits: unchanged"),
    ("1", False, "1", True, "PARTIAL_END_DATES[3] 1 digit: unchanged"),
    ("202204050630", False, "202204050630", True, "PARTIAL_END_DATES[4] yyyymmddhhmm: unchanged"),
    ("20220405", False, "202204052359", True, "PARTIAL_END_DATES[5] yyyymmdd -> 2359"),
    ("202001", False, "202001312359", True, "PARTIAL_END_DATES[6] yyyymm -> last day 2359"),
    ("202002", False, "202002292359", True, "PARTIAL_END_DATES[7] leap February -> 29"),
    ("2022", False, "202212312359", True, "PARTIAL_END_DATES[8] yyyy -> 1231 2359"),
    ("202010", False, "202010312359", True, "PARTIAL_END_DATES[9] October -> 31"),
    ("20", False, "20", True, "PARTIAL_END_DATES[10] 2 digits: unchanged"),
    ("20201", False, "20201", True, "PARTIAL_END_DATES[11] 5 digits: unchanged"),
    ("202099", False, "202099", True, "PARTIAL_END_DATES[12] month 99: unchanged"),
    # PARTIAL_FAIL_DATES (assertNotEqual)
    ("2022", False, "202212312350", False, "PARTIAL_FAIL_DATES[0] end of year is 2359, not 2350"),
]

# ---------------------------------------------------------------- split_query_into_words
WORD_CASES: list[tuple[str | None, list[str] | None, str]] = [
    (None, None, "QUERIES_INTO_WORDS[0]"),
    ("", None, "QUERIES_INTO_WORDS[1]"),
    ("a", ["a"], "QUERIES_INTO_WORDS[2]"),
    ("a b", ["a", "b"], "QUERIES_INTO_WORDS[3]"),
    ("au:", ["au:"], "QUERIES_INTO_WORDS[4]"),
    ("au:a", ["au:", "a"], "QUERIES_INTO_WORDS[5] prefix splits from its word"),
    ("au:)", ["au:", ")"], "QUERIES_INTO_WORDS[6]"),
    ("() au: a", ["(", ")", "au:", "a"], "QUERIES_INTO_WORDS[7]"),
    ('ti:"a"', ["ti:", '"a"'], "QUERIES_INTO_WORDS[8]"),
    ('title:"a"', ["title:", '"a"'], "QUERIES_INTO_WORDS[9]"),
    ('"a', ["a"], "QUERIES_INTO_WORDS[10] an unclosed quote disappears"),
    ('ti:""', ["ti:", '""'], "QUERIES_INTO_WORDS[11]"),
    ("a OR b", ["a", "OR", "b"], "QUERIES_INTO_WORDS[12]"),
    ("a AND b", ["a", "AND", "b"], "QUERIES_INTO_WORDS[13]"),
    ("a ANDNOT b", ["a", "ANDNOT", "b"], "QUERIES_INTO_WORDS[14]"),
    ("a ORR b", ["a", "ORR", "b"], "QUERIES_INTO_WORDS[15]"),
    ("ANDNOT a", ["ANDNOT", "a"], "QUERIES_INTO_WORDS[16]"),
    ("doi:a", ["doi:", "a"], "QUERIES_INTO_WORDS[17] doi: is a prefix"),
]

# ---------------------------------------------------------------- tokenize
TOKENIZE_CASES: list[tuple[str | None, list[RawToken] | None, str]] = [
    (None, None, "QUERIES_INTO_TOKENS[0]"),
    ("", None, "QUERIES_INTO_TOKENS[1]"),
    ("a", [[TEXT, "a"]], "QUERIES_INTO_TOKENS[2]"),
    ("au:a", [[PREFIX, "au:"], [TEXT, "a"]], "QUERIES_INTO_TOKENS[3]"),
    ('au:"a"', [[PREFIX, "au:"], [TEXT, '"a"']], "QUERIES_INTO_TOKENS[4]"),
    ("a OR b", [[TEXT, "a"], [OPERATOR, "OR"], [TEXT, "b"]], "QUERIES_INTO_TOKENS[5]"),
]

# ---------------------------------------------------------------- token passes
# (arXiv function, input tokens, expected tokens, note)
TOKEN_PASS_CASES: list[tuple[str, list[RawToken] | None, list[RawToken] | None, str]] = [
    # NOT_TO_ANDNOT (never run by arXiv: shadowed test method)
    ("not_into_andnot", [[OPERATOR, "ANDNOT"]], [[OPERATOR, "ANDNOT"]], "NOT_TO_ANDNOT[0] ANDNOT"),
    ("not_into_andnot", [[OPERATOR, "NOT"]], [[OPERATOR, "ANDNOT"]], "NOT_TO_ANDNOT[1] NOT"),
    (
        "not_into_andnot",
        [[OPERATOR, "AND"], [LEFT_PAREND, "("], [OPERATOR, "NOT"]],
        [[OPERATOR, "AND"], [LEFT_PAREND, "("], [OPERATOR, "ANDNOT"]],
        "NOT_TO_ANDNOT[2] AND+(NOT",
    ),
    ("not_into_andnot", [[OPERATOR, "AND"], [OPERATOR, "NOT"]], [[OPERATOR, "ANDNOT"]], "NOT_TO_ANDNOT[3] AND+NOT"),
    # CONVERT_PREFIXES
    ("convert_prefixes", [[PREFIX, "title:"]], [[PREFIX, "ti:"]], "CONVERT_PREFIXES[0] title: -> ti:"),
    # PREFIXES_WITH_NO_CONTENT
    ("remove_prefixes_with_no_content", [[PREFIX, "ti:"]], [], "PREFIXES_WITH_NO_CONTENT[0]"),
    (
        "remove_prefixes_with_no_content",
        [[PREFIX, "ti:"], [TEXT, "a"]],
        [[PREFIX, "ti:"], [TEXT, "a"]],
        "PREFIXES_WITH_NO_CONTENT[1]",
    ),
    (
        "remove_prefixes_with_no_content",
        [[OPERATOR, "NOT"], [PREFIX, "ti:"], [TEXT, "a"]],
        [[OPERATOR, "NOT"], [PREFIX, "ti:"], [TEXT, "a"]],
        "PREFIXES_WITH_NO_CONTENT[2]",
    ),
    (
        "remove_prefixes_with_no_content",
        [[OPERATOR, "NOT"], [PREFIX, "ti:"]],
        [[OPERATOR, "NOT"]],
        "PREFIXES_WITH_NO_CONTENT[3]",
    ),
    (
        "remove_prefixes_with_no_content",
        [[OPERATOR, "NOT"], [PREFIX, "ti:"], [LEFT_PAREND, "("]],
        [[OPERATOR, "NOT"], [LEFT_PAREND, "("]],
        "PREFIXES_WITH_NO_CONTENT[4]",
    ),
    # PREFIX_PARENDS_IGNORES
    (
        "fix_prefix_parends",
        [[LEFT_PAREND, "("], [TEXT, "a"]],
        [[LEFT_PAREND, "("], [TEXT, "a"]],
        "PREFIX_PARENDS_IGNORES[0] group without prefix",
    ),
    # PREFIX_PARENDS1 (simpler)
    ("fix_prefix_parends", [[PREFIX, "ti:"], [LEFT_PAREND, "("]], [[LEFT_PAREND, "("]], "PREFIX_PARENDS1[0] ti:( -> ("),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS1[1] ti:() -> ()",
    ),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [PREFIX, "ti:"], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS1[2] ti:(a) -> (ti:a)",
    ),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [TEXT, "a"], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [PREFIX, "ti:"], [TEXT, "a"], [PREFIX, "ti:"], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS1[3] ti:(a a) -> (ti:a ti:a)",
    ),
    (
        "fix_prefix_parends",
        [
            [PREFIX, "ti:"],
            [LEFT_PAREND, "("],
            [TEXT, "a"],
            [RIGHT_PAREND, ")"],
            [PREFIX, "ti:"],
            [LEFT_PAREND, "("],
            [TEXT, "a"],
            [RIGHT_PAREND, ")"],
        ],
        [
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [RIGHT_PAREND, ")"],
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [RIGHT_PAREND, ")"],
        ],
        "PREFIX_PARENDS1[4] ti:(a)ti:(a) -> (ti:a)(ti:a)",
    ),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [LEFT_PAREND, "("], [TEXT, "a"], [RIGHT_PAREND, ")"], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [LEFT_PAREND, "("], [PREFIX, "ti:"], [TEXT, "a"], [RIGHT_PAREND, ")"], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS1[5] ti:((a)) -> ((ti:a))",
    ),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [TEXT, "a"], [OPERATOR, "AND"], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        [
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [OPERATOR, "AND"],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [RIGHT_PAREND, ")"],
        ],
        "PREFIX_PARENDS1[6] ti:(a AND a) -> (ti:a AND ti:a)",
    ),
    # PREFIX_PARENDS2 (unbalanced)
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [LEFT_PAREND, "("], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [LEFT_PAREND, "("], [PREFIX, "ti:"], [TEXT, "a"], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS2[0] ti:((a) -> ((ti:a)",
    ),
    (
        "fix_prefix_parends",
        [[PREFIX, "ti:"], [LEFT_PAREND, "("], [TEXT, "a"], [RIGHT_PAREND, ")"], [RIGHT_PAREND, ")"]],
        [[LEFT_PAREND, "("], [PREFIX, "ti:"], [TEXT, "a"], [RIGHT_PAREND, ")"], [RIGHT_PAREND, ")"]],
        "PREFIX_PARENDS2[1] ti:(a)) -> (ti:a))",
    ),
    # PREFIX_PARENDS3 (more complicated)
    (
        "fix_prefix_parends",
        [
            [PREFIX, "ti:"],
            [LEFT_PAREND, "("],
            [LEFT_PAREND, "("],
            [TEXT, "a"],
            [OPERATOR, "AND"],
            [TEXT, "b"],
            [RIGHT_PAREND, ")"],
            [TEXT, "c"],
            [RIGHT_PAREND, ")"],
        ],
        [
            [LEFT_PAREND, "("],
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [OPERATOR, "AND"],
            [PREFIX, "ti:"],
            [TEXT, "b"],
            [RIGHT_PAREND, ")"],
            [PREFIX, "ti:"],
            [TEXT, "c"],
            [RIGHT_PAREND, ")"],
        ],
        "PREFIX_PARENDS3[0] ti:((a AND b) c) -> ((ti:a AND ti:b) ti:c)",
    ),
    (
        "fix_prefix_parends",
        [
            [PREFIX, "ti:"],
            [LEFT_PAREND, "("],
            [TEXT, "a"],
            [OPERATOR, "AND"],
            [LEFT_PAREND, "("],
            [TEXT, "b"],
            [OPERATOR, "OR"],
            [TEXT, "c"],
            [RIGHT_PAREND, ")"],
            [RIGHT_PAREND, ")"],
        ],
        [
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "a"],
            [OPERATOR, "AND"],
            [LEFT_PAREND, "("],
            [PREFIX, "ti:"],
            [TEXT, "b"],
            [OPERATOR, "OR"],
            [PREFIX, "ti:"],
            [TEXT, "c"],
            [RIGHT_PAREND, ")"],
            [RIGHT_PAREND, ")"],
        ],
        "PREFIX_PARENDS3[1] ti:(a AND (b OR c)) -> (ti:a AND (ti:b OR ti:c))",
    ),
    # TOKEN_ARRAYS_MISSING_PREFIXES
    ("fix_missing_prefixes", [[TEXT, "a"]], [[PREFIX, "all:"], [TEXT, "a"]], "TOKEN_ARRAYS_MISSING_PREFIXES[0] a -> all:a"),
    # TOKEN_ARRAYS_MISSING_OPERATORS
    (
        "fix_missing_operators",
        [[TEXT, "a"], [TEXT, "b"]],
        [[TEXT, "a"], [OPERATOR, "OR"], [TEXT, "b"]],
        "TOKEN_ARRAYS_MISSING_OPERATORS[0] a b -> a OR b",
    ),
    # TOKEN_ARRAYS_AUTHOR_UNDERSCORES
    (
        "fix_author_underscores",
        [[PREFIX, "au:"], [TEXT, "a_b"]],
        [[PREFIX, "au:"], [TEXT, '"a b"']],
        'TOKEN_ARRAYS_AUTHOR_UNDERSCORES[0] au:a_b -> au:"a b"',
    ),
    (
        "fix_author_underscores",
        [[PREFIX, "au:"], [TEXT, '"a_b"']],
        [[PREFIX, "au:"], [TEXT, '"a b"']],
        'TOKEN_ARRAYS_AUTHOR_UNDERSCORES[1] au:"a_b" -> au:"a b"',
    ),
    # TOKEN_ARRAYS_MULTIPLE_OPERATORS
    (
        "fix_multiple_operators",
        [[OPERATOR, "OR"], [OPERATOR, "AND"]],
        [[OPERATOR, "AND"]],
        "TOKEN_ARRAYS_MULTIPLE_OPERATORS[0]",
    ),
    (
        "fix_multiple_operators",
        [[TEXT, "a"], [OPERATOR, "AND"], [OPERATOR, "OR"], [TEXT, "b"]],
        [[TEXT, "a"], [OPERATOR, "OR"], [TEXT, "b"]],
        "TOKEN_ARRAYS_MULTIPLE_OPERATORS[1]",
    ),
    (
        "fix_multiple_operators",
        [[TEXT, "a"], [OPERATOR, "OR"], [OPERATOR, "OR"], [OPERATOR, "AND"], [TEXT, "b"]],
        [[TEXT, "a"], [OPERATOR, "AND"], [TEXT, "b"]],
        "TOKEN_ARRAYS_MULTIPLE_OPERATORS[2]",
    ),
    # TOKEN_ARRAYS_THAT_ARE_OK
    ("reformat", None, None, "TOKEN_ARRAYS_THAT_ARE_OK[0]"),
    ("reformat", [], [], "TOKEN_ARRAYS_THAT_ARE_OK[1]"),
]

# ---------------------------------------------------------------- tokens_into_query
JOIN_CASES: list[tuple[list[RawToken] | None, str | None, str]] = [
    (None, None, "TOKENS_INTO_QUERY[0]"),
    ([], None, "TOKENS_INTO_QUERY[1]"),
    ([[TEXT, "a"]], "a", "TOKENS_INTO_QUERY[2]"),
    ([[LEFT_PAREND, "("], [PREFIX, "a"]], "(a", "TOKENS_INTO_QUERY[3] no space after ( before a prefix"),
    ([[TEXT, "a"], [RIGHT_PAREND, ")"]], "a)", "TOKENS_INTO_QUERY[4] no space between text and )"),
    ([[PREFIX, "a:"], [TEXT, "a"]], "a:a", "TOKENS_INTO_QUERY[5] prefix glued to its text"),
    ([[OPERATOR, "NOT"], [TEXT, "a"]], "NOT a", "TOKENS_INTO_QUERY[6]"),
    ([[OPERATOR, "NOT"], [RIGHT_PAREND, "("]], "NOT (", "TOKENS_INTO_QUERY[7] (kind/text mismatch is arXiv's)"),
    ([[TEXT, "a"], [OPERATOR, "OR"], [TEXT, "b"]], "a OR b", "TOKENS_INTO_QUERY[8]"),
]

EXTRA_CASES: list[tuple[str, str | None, bool, str]] = [
    ("notarealword space", "all:notarealword OR all:space", True, "missing operator is OR"),
    ("a or b", "all:a OR all:or OR all:b", True, "lowercase or is a word"),
    (
        "ti:(notarealword and pineapple)",
        "(ti:notarealword OR ti:and OR ti:pineapple)",
        True,
        "lowercase and is a word; field given to every word",
    ),
    ("ti:(space time)", "(ti:space OR ti:time)", True, "field given to every word of the group"),
    (
        "ti:(space AND (apple OR time))",
        "(ti:space AND (ti:apple OR ti:time) )",
        True,
        'nested group inherits the field; note ") )"',
    ),
    (
        "ti:((space AND time) OR ti:apple)",
        "( (ti:space AND ti:time) OR ti:apple)",
        True,
        '"( (" keeps a space; explicit inner prefix kept',
    ),
    ("ti:(a au:(b c))", "(ti:a OR (ti:b OR ti:c) )", True, "nested prefixed group: the OUTER field wins"),
    ("ti:(a)ti:(b)", "(ti:a) OR (ti:b)", True, ") followed by ( gets OR"),
    ("ti: au:(a b)", "OR (all:a OR all:b)", False, "prefix right after a prefix does not open a group; leading OR -> 400"),
    ("ti:(NOT space AND time)", "( ANDNOT ti:space AND ti:time)", True, "NOT -> ANDNOT; a group may start with ANDNOT"),
    ("a NOT b", "all:a ANDNOT all:b", True, "NOT -> ANDNOT"),
    ("a AND NOT b", "all:a ANDNOT all:b", True, "AND NOT -> ANDNOT"),
    ("a OR NOT b", "all:a ANDNOT all:b", True, "OR NOT collapses to ANDNOT (meaning changes)"),
    ("(NOT a) OR b", "( ANDNOT all:a) OR all:b", True, "group starting with ANDNOT"),
    ("ANDNOT ti:a", "ANDNOT ti:a", True, "query may start with ANDNOT (unary)"),
    ("a AND AND b", "all:a AND all:b", True, "repeated operators collapse"),
    ("a AND OR b", "all:a OR all:b", True, "the last operator of a run stands"),
    ("a AND NOT NOT b", "all:a NOT all:b", False, "quirk: NOT right after AND NOT is skipped -> NOT left -> 400"),
    ("au:del_maestro", 'au:"del maestro"', True, "underscore -> quoted phrase"),
    ('au:"del_maestro"', 'au:"del maestro"', True, "underscore inside quotes -> spaces, no extra quotes"),
    ("au:del_maestro AND ti:checkerboard", 'au:"del maestro" AND ti:checkerboard', True, "au: term first: rewritten"),
    (
        "ti:checkerboard AND au:del_maestro",
        "ti:checkerboard AND au:del_maestro",
        True,
        "quirk: au: term not first -> left as is",
    ),
    ("ti:a_b AND au:smith", 'ti:a_b AND au:"a b"', True, 'quirk: au: word replaced by the 2nd token "a_b"'),
    ("a_b au:smith", 'all:a_b OR au:"a b"', True, "quirk: au: word replaced by the 2nd token"),
    ("au:del_mae*", 'au:"del mae*"', True, "wildcard kept, inside the quotes"),
    ("title:pineapple", "ti:pineapple", True, "title: -> ti:"),
    ("doi:10.1038/418838a", "doi:10.1038/418838a", True, "doi: is a field"),
    ("rn:CERN-TH-2020-001", "rn:CERN-TH-2020-001", True, "rn: is a field"),
    ("TI:x", "all:TI:x", True, "prefixes are case-sensitive: TI:x is a word"),
    ("foo:bar", "all:foo:bar", True, "unknown prefix is a word"),
    ("au: smith", "au:smith", True, "space after a prefix is dropped"),
    ('"deep learning" cat:cs.LG', 'all:"deep learning" OR cat:cs.LG', True, "quoted phrase gets all:"),
    ('ti:"hawaii OR pineapple"', 'ti:"hawaii OR pineapple"', True, "operators inside quotes are text"),
    ("cat:q-fin.*", "cat:q-fin.*", True, "category wildcard passes through"),
    ("(ti:a OR ti:b) ANDNOT au:c", "(ti:a OR ti:b) ANDNOT au:c", True, "already valid: unchanged"),
    ('ti:"dark matter', "ti:dark OR all:matter", True, "unclosed quote: the quote is dropped"),
    ("a\nb", "all:a OR all:b", True, "newline is a space"),
    (
        "lastUpdatedDate:[202210100600 TO 202210120600]",
        'submittedDate:"202210100600 TO 202210120600"',
        True,
        "lastUpdatedDate: -> submittedDate:, [] -> quotes",
    ),
    ("x lastUpdatedDate:foo", "all:x OR submittedDate:foo", True, "alias applies anywhere"),
    (
        "submittedDate:[2007 TO 2008]",
        'submittedDate:"200701010000 TO 200812312359"',
        True,
        "years: Jan 1 00:00 .. Dec 31 23:59",
    ),
    (
        "submittedDate:[202001 TO 202002]",
        'submittedDate:"202001010000 TO 202002292359"',
        True,
        "months: 1st 00:00 .. last day 23:59 (leap year)",
    ),
    ("submittedDate:[20200101 TO 20200229]", 'submittedDate:"202001010000 TO 202002292359"', True, "days: 0000 .. 2359"),
    (
        "submittedDate:[20200101123456 TO 2021]",
        'submittedDate:"202001011234 TO 202112312359"',
        True,
        "more than 12 digits cut to 12",
    ),
    (
        "submittedDate:[2020-01 TO 2020-02]",
        'submittedDate:"2020-01 TO 2020-02"',
        True,
        "hyphens match the pattern but are not filled",
    ),
    (
        "submittedDate:[202013 TO 202013]",
        'submittedDate:"202013010000 TO 202013"',
        True,
        "bad month: start still filled, end unchanged",
    ),
    (
        'submittedDate:"202001010000 TO 202002292359"',
        'submittedDate:"202001010000 TO 202002292359"',
        True,
        "quoted range unchanged",
    ),
    ('submittedDate:"2020 TO 2021"', 'submittedDate:"2020 TO 2021"', True, "quoted partial range is NOT filled"),
    (
        "submittedDate:[2020 to 2021]",
        "submittedDate:[2020 OR all:to OR all:2021]",
        True,
        'lowercase "to": not a range, split into words',
    ),
    (
        "cat:cs.AI AND submittedDate:[2024 TO 2024]",
        'cat:cs.AI AND submittedDate:"202401010000 TO 202412312359"',
        True,
        "range combined with a field",
    ),
    ("ti:(a", "(ti:a", False, "unbalanced ( -> 400"),
    ("ti:a)", "ti:a)", False, "unbalanced ) -> 400"),
    ("(ti:a))", "(ti:a) )", False, "extra ) -> 400"),
    ("a AND (", "all:a AND (", False, "dangling ( -> 400"),
    ("ti:a AND", "ti:a AND", False, "dangling operator -> 400"),
    ("ti:a AND NOT", "ti:a ANDNOT", False, "dangling ANDNOT -> 400"),
    ("OR ti:a", "OR ti:a", False, "leading operator -> 400"),
    ("ti:a AND (au:b OR)", "ti:a AND (au:b OR )", False, "dangling operator in a group -> 400"),
    ("()", "( )", False, "empty group -> 400"),
    ("ti:()", "( )", False, "empty prefixed group -> 400"),
    ('all:ti:"pineapple"', 'OR ti:"pineapple"', False, "prefix prefix: OR inserted, first dropped -> leading OR -> 400"),
    ("   ", None, False, "nothing to search -> 400 (unless id_list)"),
    ("au:", None, False, "prefix alone -> nothing -> 400 (unless id_list)"),
    ('ti:"a\\"', 'ti:"a\\"', False, "quoted value ending in backslash: grammar cannot close it -> 400"),
]


# Where papertrack differs from arXiv's code on purpose: query -> (our rewrite, accepted here, why).
DEVIATIONS: dict[str, tuple[str, bool, str]] = {
    # arXiv's fix_author_underscores builds the phrase from the query's second token, not the
    # author word: right only when the query starts with au:. We follow the intended rule.
    "ti:checkerboard AND au:del_maestro": (
        'ti:checkerboard AND au:"del maestro"',
        True,
        "author phrase from the author word",
    ),
    "ti:a_b AND au:smith": ("ti:a_b AND au:smith", True, "author phrase from the author word"),
    "a_b au:smith": ("all:a_b OR au:smith", True, "author phrase from the author word"),
    # arXiv's grammar accepts any submittedDate value; what its search backend does with these
    # is not known. The stand-in (like the shared one) cannot evaluate them, so papertrack
    # refuses them with a message saying how to write a range.
    "x lastUpdatedDate:foo": ("all:x OR submittedDate:foo", False, "not a date range"),
    "submittedDate:[2020-01 TO 2020-02]": ('submittedDate:"2020-01 TO 2020-02"', False, "hyphenated dates"),
    "submittedDate:[202013 TO 202013]": ('submittedDate:"202013010000 TO 202013"', False, "month 13"),
    'submittedDate:"2020 TO 2021"': ('submittedDate:"2020 TO 2021"', False, "quoted years are not filled in"),
    "submittedDate:[2020 to 2021]": ("submittedDate:[2020 OR all:to OR all:2021]", False, "lower-case 'to'"),
}
