"""dblp through its SPARQL endpoint: the query forms, the SPARQL they become, paging,
QLever's errors, rate limits, the bot check, and dblp's record quirks as `Paper`s."""

from __future__ import annotations

import time

import pytest

from papertrack.errors import BotCheck, QueryRejected, SourceError, Throttled
from papertrack.sources.dblp import venue_label
from papertrack.sources.dblp_query import DblpQueryError, parse_dblp
from papertrack.sources.dblp_sparql import DblpSparqlClient, sparql
from tests.sparql_standin import SparqlStandIn, record

TOC, TOC_KEY = "toc:db/conf/cvpr/cvpr2020.bht:", "db/conf/cvpr/cvpr2020.bht"
RATE_LIMIT_PAGE = b"<html><head><title>429 Too Many Requests</title></head><body>Slow down</body></html>"


@pytest.fixture
def standin():
    servers = []

    def start(records, **kw) -> SparqlStandIn:
        servers.append(SparqlStandIn(records, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def on_toc(*records):
    return [{**r, "toc": TOC_KEY} for r in records]


def test_a_toc_query_maps_dblp_records_to_papers(standin):
    server = standin(
        on_toc(
            record("conf/cvpr/Solo20", "Binarizing Everything", ["Ada Lovelace 0002"]),
            record(
                "conf/cvpr/LinkedA20",
                "Pruning with Links",
                ["Grace Hopper", "Alan Turing", "Edsger Dijkstra"],
                ee=["https://doi.org/10.1109/CVPR42600.2020.00001", "https://arxiv.org/abs/2003.01234v2"],
                doi="10.1109/CVPR42600.2020.00001",
            ),  # fmt: skip
            record("conf/cvpr/2020", "CVPR 2020 proceedings", ["Ed Itor"], type="Editorship"),
        )
        + [record("conf/iccv/Other19", "Elsewhere", ["No Body"], venue="ICCV", year=2019, toc="db/conf/iccv/iccv2019.bht")]
    )
    page = DblpSparqlClient(server.url, delay=0).page(TOC)
    assert (page.first, page.total, page.sent) == (0, 3, 3)
    linked, solo = page.papers  # ordered by publication IRI; the proceedings volume itself is skipped
    assert solo.id == "dblp:conf/cvpr/Solo20" and solo.dblp_key == "conf/cvpr/Solo20"
    assert solo.title == "Binarizing Everything"  # dblp's final "." dropped
    assert solo.authors == ["Ada Lovelace"]  # homonym number dropped
    assert (solo.venue, solo.venue_type, solo.year, solo.pages) == ("CVPR 2020", "conference", 2020, "1-10")
    assert linked.authors == ["Grace Hopper", "Alan Turing", "Edsger Dijkstra"]  # signature order, not name order
    assert linked.doi == "10.1109/cvpr42600.2020.00001" and linked.url.startswith("https://doi.org/")
    assert page.arxiv_ids == {linked.id: "2003.01234"} and not page.preprints
    [sent] = server.log
    assert "dblp:listedOnTocPage <https://dblp.org/db/conf/cvpr/cvpr2020>" in sent and "ORDER BY ?publ" in sent


def test_paging_with_limit_and_offset_under_a_stable_order(standin):
    server = standin(on_toc(*(record(f"conf/cvpr/P{i:02d}", f"Paper number {i}", ["Ada Lovelace"]) for i in range(25))))
    client = DblpSparqlClient(server.url, delay=0, page_size=10)
    pages = [client.page(TOC, first) for first in (0, 10, 20)]
    assert [(p.first, p.sent, p.total) for p in pages] == [(0, 10, 25), (10, 10, 25), (20, 5, 25)]
    assert [q[q.index("LIMIT") :].split()[:4] for q in server.log] == [
        ["LIMIT", "10", "OFFSET", "0"],
        ["LIMIT", "10", "OFFSET", "10"],
        ["LIMIT", "10", "OFFSET", "20"],
    ]
    ids = [p.id for page in pages for p in page.papers]
    assert ids == sorted(ids) and len(set(ids)) == 25


def test_an_empty_result_is_one_request(standin):
    server = standin([])
    page = DblpSparqlClient(server.url, delay=0).page(TOC)
    assert (page.total, page.sent, page.papers) == (0, 0, []) and len(server.log) == 1


def test_an_empty_page_after_the_first_is_not_the_end(standin):
    server = standin(on_toc(record("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])))
    with pytest.raises(SourceError) as err:
        DblpSparqlClient(server.url, delay=0, page_size=1).page(TOC, 1)
    assert str(err.value).startswith("dblp kept sending an empty page at offset 1 (")
    assert len(server.log) == 4  # fetched again three times


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("venue:ECCV: year:2020:", {"conf/eccv/A20", "conf/eccv/B20"}),  # ECCV (3) is ECCV too
        ("venue:ECCV: quantiz", {"conf/eccv/A20"}),  # a word start
        ("year:2019: binar", {"conf/cvpr/C19"}),
        ("network$ year:2020:", {"conf/eccv/B20"}),  # the whole word only
    ],
)
def test_venue_year_and_title_words_have_sparql_equivalents(standin, query, kept):
    server = standin(
        [
            record("conf/eccv/A20", "Quantized Networks", ["A"], venue="ECCV (3)"),
            record("conf/eccv/B20", "A Binary Network", ["B"], venue="ECCV"),
            record("conf/eccvw/W20", "Quantized Workshops", ["C"], venue="ECCV Workshops"),
            record("conf/cvpr/C19", "Binarized Networking", ["D"], year=2019),
        ]
    )
    page = DblpSparqlClient(server.url, delay=0).page(query)
    assert {p.dblp_key for p in page.papers} == kept


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("author:Ada_Lovelace:", "author: is not a dblp query form"),
        ("pruning | quantization", "cannot read '|'"),
        ("-pruning", "cannot read '-pruning'"),
        ("toc:conf/cvpr/cvpr2020:", "is not a valid toc"),
        ("year:twenty:", "is not a valid year"),
        ('venue:CVPR" } DROP:', "is not a valid venue"),
        ("toc:db/conf/cvpr/cvpr2020.bht: toc:db/conf/iccv/iccv2019.bht:", "toc: appears twice"),
    ],
)
def test_other_query_forms_are_refused_naming_the_supported_ones(query, complaint):
    with pytest.raises(DblpQueryError) as err:
        parse_dblp(query)
    assert complaint in str(err.value)
    if "form" in complaint or "read" in complaint:
        assert "toc:db/conf/cvpr/cvpr2020.bht:, venue:CVPR:, year:2020: and title words" in str(err.value)


def test_a_query_qlever_cannot_run_is_its_exception_in_one_line(standin):
    server = standin(
        [],
        faults={1: (400, b'{"exception": "Invalid SPARQL query:\\n  Token \\"}\\": mismatched input", "query": "x"}', {})},
    )
    with pytest.raises(QueryRejected) as err:
        DblpSparqlClient(server.url, delay=0).page(TOC)
    assert str(err.value) == 'dblp\'s SPARQL endpoint rejected the query: Invalid SPARQL query: Token "}": mismatched input'
    assert len(server.log) == 1  # not retried


def test_the_stand_in_runs_the_sparql_papertrack_writes(standin):
    """The text papertrack sends is real SPARQL 1.1: rdflib parses and runs it (a typo would be a 400)."""
    server = standin(on_toc(record("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])))
    text = sparql(parse_dblp("venue:CVPR: year:2020: pap"), 5, 0)
    assert server.answer(text)[0] == 200
    assert server.answer(text.replace("GROUP BY", "GROUP"))[0] == 400


def test_429_is_retried_after_retry_after(standin):
    server = standin(
        on_toc(record("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])),
        faults={1: (429, RATE_LIMIT_PAGE, {"Retry-After": "1", "Content-Type": "text/html"})},
    )
    client = DblpSparqlClient(server.url, delay=0)
    started = time.monotonic()
    page = client.page(TOC)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert [p.title for p in page.papers] == ["A Paper"]
    assert client.requests == 2 and len(server.log) == 2


def test_persistent_429_is_throttling_and_asks_nothing_more(standin):
    server = standin(
        [], faults={n: (429, RATE_LIMIT_PAGE, {"Retry-After": "120", "Content-Type": "text/html"}) for n in range(1, 20)}
    )
    client = DblpSparqlClient(server.url, delay=0, retries=2)
    client.http.session.adapters["http://"].max_retries.respect_retry_after_header = False  # do not sleep 2 min here
    with pytest.raises(Throttled) as err:
        client.page(TOC)
    assert str(err.value).startswith("dblp is throttling this machine (HTTP 429 on 3 requests); try again after ")
    assert "(it asked for 2 min)" in str(err.value) and err.value.retry_after == 120
    with pytest.raises(Throttled):
        client.page(TOC)
    assert len(server.log) == 3  # the second call asked nothing


@pytest.mark.parametrize("status", [200, 500])
def test_a_bot_check_page_is_said_in_one_line_and_never_retried(standin, status):
    server = standin([], anubis=status)
    client = DblpSparqlClient(server.url, delay=0)
    with pytest.raises(BotCheck) as err:
        client.page(TOC)
    message = str(err.value)
    assert message.startswith(f"dblp answered with a bot-check page (Anubis, HTTP {status}) instead of data;")
    assert "nothing stored was touched" in message and "papertrack import-dblp" in message and "\n" not in message
    assert len(server.log) == 1
    with pytest.raises(BotCheck):
        client.page(TOC)
    assert len(server.log) == 1


def test_truncated_json_is_retried(standin):
    server = standin(on_toc(record("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])))
    good = server.answer(sparql(parse_dblp(TOC), 2000, 0))[1]
    server.faults = {2: (200, good[: len(good) // 2], {})}
    page = DblpSparqlClient(server.url, delay=0).page(TOC)
    assert len(page.papers) == 1 and len(server.log) == 3


def test_corr_records_and_venue_lists(standin):
    server = standin(
        on_toc(
            record(
                "journals/corr/abs-2003-01234",
                "A Preprint",
                ["Ada Lovelace"],
                venue="CoRR",
                type="Informal and Other Publications",
                volume="abs/2003.01234",
                doi="10.48550/ARXIV.2003.01234",
                ee="https://doi.org/10.48550/arXiv.2003.01234",
                pages=None,
            ),  # fmt: skip
            record(
                "journals/pami/A21",
                "A Journal Paper",
                ["Ada Lovelace"],
                venue="IEEE Trans. Pattern Anal. Mach. Intell.",
                type="Journal Articles",
                volume="43",
                year=2021,
            ),  # fmt: skip
        )
    )
    corr, pami = DblpSparqlClient(server.url, delay=0).page(TOC).papers
    assert corr.venue is None and corr.doi is None  # CoRR is no venue; its DOI names the preprint
    assert (pami.venue, pami.venue_type, pami.volume) == ("TPAMI 2021", "journal", "43")


def test_unreachable_is_a_source_error():
    with pytest.raises(SourceError, match="unreachable"):
        DblpSparqlClient("http://127.0.0.1:9/sparql", delay=0, retries=1).page(TOC)


@pytest.mark.parametrize(
    "venue, kind, year, label",
    [
        ("CVPR", "Conference and Workshop Papers", 2020, ("CVPR 2020", "conference")),
        ("NeurIPS", "Conference and Workshop Papers", 2020, ("NeurIPS 2020", "conference")),
        ("NIPS", "Conference and Workshop Papers", 2015, ("NeurIPS 2015", "conference")),
        ("ICLR (Poster)", "Conference and Workshop Papers", 2019, ("ICLR 2019", "conference")),
        ("ECCV (3)", "Conference and Workshop Papers", 2018, ("ECCV 2018", "conference")),
        ("CVPR Workshops", "Conference and Workshop Papers", 2020, ("CVPR Workshops 2020", "workshop")),
        ("ICLR (Workshop)", "Conference and Workshop Papers", 2016, ("ICLR Workshop 2016", "workshop")),
        ("ACL (Findings)", "Conference and Workshop Papers", 2021, ("ACL Findings 2021", "conference")),
        ("Pattern Recognit.", "Journal Articles", 2021, ("Pattern Recognition 2021", "journal")),
        ("IEEE Trans. Pattern Anal. Mach. Intell.", "Journal Articles", 2021, ("TPAMI 2021", "journal")),
        ("SSBSE", "Conference and Workshop Papers", 2017, ("SSBSE 2017", "conference")),
        ("CoRR", "Informal and Other Publications", 2020, (None, None)),
    ],
)
def test_venue_labels(venue, kind, year, label):
    assert venue_label(venue, kind, year) == label
