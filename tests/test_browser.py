"""End to end in a real browser: headless Chromium (Playwright) against `papertrack serve`."""

from __future__ import annotations

import re
from pathlib import Path

import bibtexparser
import pytest

from tests import papers_db
from tests.serving import papertrack_process

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        yield page
        browser.close()


def bib(text: str):
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    return library.entries


def test_search_facet_paper_and_bibtex_in_chromium(tmp_path, browser_page):
    page = browser_page
    db = papers_db.build(tmp_path / "papers.db")
    with papertrack_process("serve", "--db", str(db), "--port", "0", cwd=tmp_path) as server:
        page.goto(server.base + "/papers/papers")
        assert page.locator("h1").first.inner_text() == "papers"

        page.fill("#_search", "binary")
        page.press("#_search", "Enter")
        page.wait_for_url(re.compile(r"_search=binary"))
        assert page.locator("h3").first.inner_text().startswith(f"{papers_db.N + 1} rows where search matches")

        page.locator("#facet-tags a", has_text="pruning").click()
        page.wait_for_url(re.compile(r"_through="))
        count = papers_db.pruning_count()
        assert page.locator("h3").first.inner_text().startswith(f"{count} rows")
        selected = page.locator("#facet-tags li", has=page.locator("a.cross"))
        assert selected.inner_text().startswith(f"pruning · {count}")
        page.screenshot(path=str(tmp_path / "faceted.png"), full_page=True)

        page.locator(".export-links a", has_text="bib").click()
        entries = bib(page.locator("body").inner_text())
        assert len(entries) == count and all(int(e["eprint"][-5:]) % 3 == 0 for e in entries)
        page.go_back()

        first = page.locator("table.rows-and-columns tbody tr").first.locator("td.col-id a")
        paper_id = first.inner_text()
        first.click()
        page.wait_for_selector(".paper h1")
        assert page.locator(".paper .tags a").all_inner_texts() == ["binarization", "pruning"]
        assert (
            page.locator(".paper .links a", has_text="arXiv abstract").get_attribute("href")
            == f"https://arxiv.org/abs/{paper_id}"
        )
        assert page.locator(".paper .links a", has_text="PDF").get_attribute("href") == f"https://arxiv.org/pdf/{paper_id}"
        assert "Abstract" in page.locator(".paper").inner_text()
        page.screenshot(path=str(tmp_path / "paper.png"), full_page=True)

        page.locator(".paper .links a", has_text="BibTeX").click()
        [entry] = bib(page.locator("body").inner_text())
        assert entry["eprint"] == paper_id

        page.goto(server.base + "/papers/papers/2001~2E09999")
        assert page.locator(".paper h1").inner_text() == papers_db.HOSTILE_TITLE
        assert page.locator(".paper .abstract").inner_text() == papers_db.HOSTILE_ABSTRACT
        assert page.locator(".paper h1 b, .paper img, .paper .authors i").count() == 0
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    assert page.dialogs == []
    assert (tmp_path / "faceted.png").stat().st_size > 10_000


def test_browse_page_chart_search_tag_paper_and_bibtex_in_chromium(tmp_path, browser_page):
    page = browser_page
    db = papers_db.build(tmp_path / "papers.db")
    with papertrack_process("serve", "--db", str(db), "--port", "0", cwd=tmp_path) as server:
        page.goto(server.url)
        chart = page.locator("svg.tag-chart")
        assert chart.is_visible() and chart.bounding_box()["width"] > 600
        assert page.locator("svg.tag-chart g.series").count() == 2  # binarization and pruning
        assert page.locator("#total").inner_text() == f"{papers_db.N + 1} papers"
        page.screenshot(path=str(tmp_path / "landing.png"), full_page=True)

        page.fill("#q", "binary networks")
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r"/browse\?q=binary\+networks"))
        assert page.locator("#total").inner_text() == f"{papers_db.N} papers"
        assert page.locator(".card h3 mark").first.inner_text().lower().startswith("binary")
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

        page.locator(".card .tags a", has_text="pruning").first.click()
        page.wait_for_url(re.compile(r"tag=pruning"))
        count = papers_db.pruning_count()
        assert page.locator("#total").inner_text() == f"{count} papers"
        assert page.locator(".selected a").inner_text().startswith("tag: pruning")
        assert page.locator("#facet-tag li.on").inner_text().split() == ["pruning", str(count)]

        first = page.locator(".card h3 a").first
        title = first.inner_text()
        first.click()
        page.wait_for_selector(".paper h1")
        assert page.locator(".paper h1").inner_text() == title
        page.go_back()

        page.locator("#bib-link").click()
        entries = bib(page.locator("body").inner_text())
        assert len(entries) == count and all(int(e["eprint"][-5:]) % 3 == 0 for e in entries)
    assert page.dialogs == []
    assert (tmp_path / "landing.png").stat().st_size > 20_000
