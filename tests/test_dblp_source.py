"""The DBLP client against DBLP's real JSON shape: quirks, paging, rate limits, empty results."""

from __future__ import annotations

import json
import time

import pytest

from papertrack.errors import QueryRejected, SourceError
from papertrack.sources.dblp import DblpClient, parse_result, venue_label
from tests.dblp_standin import RATE_LIMIT_PAGE, DblpStandIn, info, response
from tests.helpers import requires_shared

TOC = "toc:db/conf/cvpr/cvpr2020.bht:"


@pytest.fixture
def standin():
    servers = []

    def start(records, faults=None) -> DblpStandIn:
        servers.append(DblpStandIn(records, faults))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_quirks_single_author_object_ee_list_string_numbers_trailing_period(standin):
    server = standin(
        {
            TOC: [
                info("conf/cvpr/Solo20", "Binarizing Everything", ["Ada Lovelace 0002"]),  # one author: an object
                info(
                    "conf/cvpr/LinkedA20",
                    "Pruning with Links",
                    ["Grace Hopper", "Alan Turing"],
                    ee=["https://doi.org/10.1109/CVPR42600.2020.00001", "https://arxiv.org/abs/2003.01234v2"],
                    doi="10.1109/CVPR42600.2020.00001",
                ),
                info("conf/cvpr/Old20", "Old Shape", ["Edsger Dijkstra"], pids=False),  # a bare string
                info("conf/cvpr/Many20", "Old Shape, Many Authors", ["A. One", "B. Two"], pids=False),
            ]
        }
    )
    page = DblpClient(server.url, delay=0).page(TOC)
    assert (page.first, page.total, page.sent) == (0, 4, 4)
    solo, linked, old, many = page.papers
    assert solo.id == "dblp:conf/cvpr/Solo20" and solo.dblp_key == "conf/cvpr/Solo20"
    assert solo.title == "Binarizing Everything"  # DBLP's final "." dropped
    assert solo.authors == ["Ada Lovelace"]  # homonym number dropped
    assert (solo.venue, solo.venue_type, solo.year, solo.pages) == ("CVPR 2020", "conference", 2020, "1-10")
    assert linked.doi == "10.1109/cvpr42600.2020.00001" and linked.url.startswith("https://doi.org/")
    assert page.arxiv_ids == {linked.id: "2003.01234"} and not page.preprints
    assert old.authors == ["Edsger Dijkstra"] and many.authors == ["A. One", "B. Two"]
    assert server.log[0] == {"q": TOC, "format": "json", "h": "1000", "f": "0", "c": "0"}


def test_paging_with_h_and_f(standin):
    hits = [info(f"conf/cvpr/P{i}", f"Paper number {i}", ["Ada Lovelace"]) for i in range(25)]
    server = standin({TOC: hits})
    pages = list(DblpClient(server.url, delay=0, page_size=10).fetch_pages(TOC))
    assert [(p.first, p.sent) for p in pages] == [(0, 10), (10, 10), (20, 5)]
    assert [(a["f"], a["h"]) for a in server.log] == [("0", "10"), ("10", "10"), ("20", "10")]
    assert len({p.id for page in pages for p in page.papers}) == 25
    assert DblpClient(server.url, delay=0, page_size=5000).page_size == 1000  # DBLP's cap


def test_empty_result_has_no_hit_key(standin):
    server = standin({})
    body = json.loads(response("nothing", [], 0, 0))
    assert "hit" not in body["result"]["hits"]
    pages = list(DblpClient(server.url, delay=0).fetch_pages("nothing"))
    assert [(p.total, p.papers) for p in pages] == [(0, [])]
    assert len(server.log) == 1


def test_429_with_html_body_is_retried_after_retry_after(standin):
    hit = info("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])
    server = standin({TOC: [hit]}, faults={1: (429, RATE_LIMIT_PAGE, {"Retry-After": "1"})})
    client = DblpClient(server.url, delay=0)
    started = time.monotonic()
    page = client.page(TOC)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert [p.title for p in page.papers] == ["A Paper"]
    assert client.requests == 2 and len(server.log) == 2


def test_persistent_429_fails_with_the_status_not_a_json_error(standin):
    server = standin({}, faults={n: (429, RATE_LIMIT_PAGE, {"Retry-After": "0"}) for n in range(1, 10)})
    with pytest.raises(SourceError) as err:
        DblpClient(server.url, delay=0, retries=2).page(TOC)
    assert "HTTP 429" in str(err.value) and "JSON" not in str(err.value)
    assert len(server.log) == 3


def test_truncated_json_is_retried(standin):
    good = response(TOC, [info("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])], 0, 1)
    server = standin(
        {TOC: [info("conf/cvpr/A20", "A Paper", ["Ada Lovelace"])]}, faults={1: (200, good[: len(good) // 2], {})}
    )
    page = DblpClient(server.url, delay=0).page(TOC)
    assert len(page.papers) == 1 and len(server.log) == 2


def test_error_status_in_the_json_is_a_rejection():
    with pytest.raises(QueryRejected, match="bad query"):
        parse_result({"status": {"@code": "400", "text": "bad query"}}, 0, "http://x")


def test_corr_records_editorship_and_venue_lists():
    hits = [
        info(
            "journals/corr/abs-2003-01234",
            "A Preprint",
            ["Ada Lovelace"],
            venue="CoRR",
            type="Informal and Other Publications",
            volume="abs/2003.01234",
            doi="10.48550/ARXIV.2003.01234",
            ee="https://doi.org/10.48550/arXiv.2003.01234",
            pages=None,
        ),
        info("conf/cvpr/2020", "CVPR 2020 proceedings", ["Ed Itor"], type="Editorship"),
        info("conf/eccv/A20", "Multi", ["Ada Lovelace"], venue=["ECCV (5)", "Other"]),
    ]
    page = parse_result(json.loads(response("q", hits, 0, 3))["result"], 0, "http://x")
    corr, eccv = page.papers  # the proceedings volume itself is skipped
    assert page.preprints == {corr.id} and page.arxiv_ids[corr.id] == "2003.01234"
    assert corr.venue is None and corr.doi is None  # CoRR is no venue; its DOI names the preprint
    assert eccv.venue == "ECCV 2020"


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


@pytest.mark.shared
def test_real_dblp_responses_parse():
    folder = requires_shared("data", "dblp")
    author = json.loads((folder / "mike-turintech_search_publ_author_27hits.json").read_text())["result"]
    page = parse_result(author, 0, "http://x")
    assert page.total == 27 and len(page.papers) == 27
    thesis = next(p for p in page.papers if p.dblp_key == "phd/ethos/Basios19")
    assert thesis.authors == ["Michail Basios"]  # the single-author object
    assert all(not p.title.endswith(".") for p in page.papers)
    assert "Fan Wu" in next(p for p in page.papers if p.dblp_key == "conf/kbse/GongGBVWATBKXW25").authors
    corr = [p for p in page.papers if p.id in page.preprints]
    assert len(corr) == 12 and page.arxiv_ids["dblp:journals/corr/BasiosLWKLB17"] == "1706.03232"
    old = parse_result(json.loads((folder / "tp2_search_publ_test_30hits_2019format.json").read_text())["result"], 0, "x")
    assert len(old.papers) == 30 and all(p.authors for p in old.papers if p.venue)
    journal = next(p for p in old.papers if p.dblp_key == "journals/stvr/BruckerJ14")
    assert journal.venue_type == "journal" and journal.volume == "24"
