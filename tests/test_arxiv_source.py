"""The arXiv client against recorded-shape responses: formats, ids, faults, errors."""

from __future__ import annotations

import time

import pytest

from papertrack.errors import QueryRejected, SourceError
from papertrack.models import split_arxiv_id
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.arxiv_standin import Faults
from tests.helpers import FIXTURES, make_paper

OK = 200


def body(name: str) -> bytes:
    return (FIXTURES / "arxiv" / name).read_bytes()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("http://arxiv.org/abs/hep-ex/0406020v1", ("hep-ex/0406020", 1)),
        ("1909.04977", ("1909.04977", None)),
        ("arXiv:1909.04977v3", ("1909.04977", 3)),
        ("https://arxiv.org/pdf/2003.13678.pdf", ("2003.13678", None)),
        ("https://arxiv.org/pdf/2003.13678v2.pdf", ("2003.13678", 2)),
        ("https://arxiv.org/abs/math.GT/0309136v2", ("math.GT/0309136", 2)),
        ("10.1109/123.4567", None),
        ("1909.049771", None),
    ],
)
def test_arxiv_ids(text, expected):
    assert split_arxiv_id(text) == expected


def test_legacy_format_is_read(scripted_server):
    server = scripted_server([(OK, body("legacy_page.xml"), {})])
    page = ArxivClient(server.url, delay=0).page("ti:distillation", 0)
    assert page.total == 2
    hinton, chem = page.papers
    assert hinton.id == "1503.02531" and hinton.version == 1
    assert hinton.authors == ["Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"]
    assert hinton.primary_category == "stat.ML" and hinton.categories == ["stat.ML", "cs.LG", "cs.NE"]
    assert hinton.abstract.startswith("A very simple way") and "\n" not in hinton.abstract
    assert chem.id == "cond-mat/0102536" and chem.version == 2
    assert chem.title == "Fractional distillation of binary mixtures near the critical point"
    assert chem.doi == "10.1103/PhysRevE.63.041101"
    assert chem.journal_ref == "Phys. Rev. E 63, 041101 (2001)"


def test_unicode_latex_and_old_style_ids(scripted_server):
    server = scripted_server([(OK, body("unicode_latex.xml"), {})])
    papers = list(ArxivClient(server.url, delay=0).fetch_ids(["2206.06921", "hep-ex/0406020v1"]))
    assert [p.id for p in papers] == ["2206.06921", "hep-ex/0406020"]
    latex = papers[0]
    assert latex.title == (
        r"$\ell_1$-Sparse Pruning of Schrödinger Networks: Ångström-scale Quantization with $\mathcal{O}(n)$ Bits"
    )
    assert latex.authors[2] == "Zoë Çelik"
    assert latex.version == 3 and latex.published == "2022-06-14T15:35:46Z" and latex.updated == "2023-01-25T20:37:21Z"
    assert latex.url == "https://arxiv.org/abs/2206.06921" and latex.pdf_url == "https://arxiv.org/pdf/2206.06921"
    assert "id_list=2206.06921%2Chep-ex%2F0406020v1" in server.requests[0]


def test_error_feed_is_not_retried(scripted_server):
    server = scripted_server([(400, body("error_feed.xml"), {})])
    with pytest.raises(QueryRejected, match="incorrect id format for xyz"):
        ArxivClient(server.url, delay=0).page("id:xyz", 0)
    assert len(server.requests) == 1


def test_503_then_success_honours_retry_after(scripted_server):
    ok = body("legacy_page.xml")
    server = scripted_server([(503, b"busy", {"Retry-After": "1"}), (OK, ok, {})])
    client = ArxivClient(server.url, delay=0)
    started = time.monotonic()
    page = client.page("ti:distillation", 0)
    assert len(page.papers) == 2
    assert time.monotonic() - started >= 1.0  # waited what Retry-After asked
    assert client.requests == 2 and len(server.requests) == 2


@pytest.mark.parametrize("status", [429, 406, 502])
def test_transient_statuses_are_retried(scripted_server, status):
    server = scripted_server([(status, b"<html>slow down</html>", {"Retry-After": "0"}), (OK, body("legacy_page.xml"), {})])
    assert len(ArxivClient(server.url, delay=0).page("x", 0).papers) == 2


def test_gives_up_with_a_typed_error(scripted_server):
    server = scripted_server([(503, b"down", {"Retry-After": "0"})])
    with pytest.raises(SourceError, match="HTTP 503"):
        ArxivClient(server.url, delay=0, retries=2).page("x", 0)
    assert len(server.requests) == 3


def test_truncated_page_is_retried(scripted_server):
    whole = body("legacy_page.xml")
    server = scripted_server([(OK, whole[: len(whole) // 2], {}), (OK, whole, {})])
    assert len(ArxivClient(server.url, delay=0).page("x", 0).papers) == 2
    assert len(server.requests) == 2


def test_truncated_forever_fails(scripted_server):
    whole = body("legacy_page.xml")
    server = scripted_server([(OK, whole[:-40], {})])
    with pytest.raises(SourceError, match="truncated"):
        ArxivClient(server.url, delay=0, content_retries=2).page("x", 0)
    assert len(server.requests) == 3


def test_empty_middle_page_is_retried(replay):
    server = replay([make_paper(i) for i in range(1, 8)], Faults(empty_every=2))
    client = ArxivClient(server.url, delay=0, page_size=3)
    first = client.page("all:binary", 0)
    second = client.page("all:binary", 3)  # request 2 comes back empty, request 3 is retried
    assert first.total == 7 and len(second.papers) == 3
    assert len(server.log) == 3


def test_unreachable_is_a_source_error():
    client = ArxivClient("http://127.0.0.1:9/api/query", delay=0, retries=1)
    with pytest.raises(SourceError, match="unreachable"):
        client.page("x", 0)


def test_requests_are_spaced_by_the_delay(replay):
    server = replay([make_paper(i) for i in range(1, 10)])
    client = ArxivClient(server.url, delay=0.3, page_size=2)
    for start in (0, 2, 4, 6):
        client.page("all:binary", start)
    times = [r["t"] for r in server.log.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 3 and min(gaps) >= 0.29
