"""A reader in a real browser (headless Chromium, Playwright) against `papertrack serve`:
sign in, save, like, dislike, watch "for you" change, mute a word, export the library,
sign out. Screenshots of each page are left in the test's directory."""

from __future__ import annotations

import re
import time

import bibtexparser
import pytest

from papertrack.accounts.schema import open_library, transaction
from papertrack.accounts.users import add_user
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db
from papertrack.store.schema import transaction as db_transaction
from tests import rank_corpus as corpus
from tests.serving import papertrack_process
from tests.test_browser import CHROMIUM, browser_page  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
PASSWORD = "correct horse battery"


def cards(page) -> list[str]:
    return [a.split("paper-", 1)[1] for a in page.locator("article.card").evaluate_all("els => els.map(e => e.id)")]


def reload_until(page, condition, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not change in time"
        time.sleep(1)
        page.reload()


def test_a_reader_keeps_a_library_and_gets_their_ranking(tmp_path, browser_page):  # noqa: F811
    page = browser_page
    db = open_db(tmp_path / "papers.db")
    with db_transaction(db):
        save_papers(db, corpus.papers())
    db.close()
    lib = open_library(tmp_path / "library.db")
    with transaction(lib.conn):
        add_user(lib.conn, "alice", PASSWORD)
    lib.close()
    with papertrack_process("serve", "--db", str(tmp_path / "papers.db"), "--port", "0", cwd=tmp_path) as server:
        page.goto(server.url)
        page.click("#sign-in")
        page.fill("#username", "alice")
        page.fill("#password", PASSWORD)
        page.screenshot(path=str(tmp_path / "sign-in.png"), full_page=True)
        page.click("#sign-in-button")
        page.wait_for_selector("#pt-user")
        assert "Signed in as alice" in page.locator("#pt-user").inner_text()

        page.fill("#q", "quantization kv cache")
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r"q=quantization"))
        first = cards(page)[:4]
        for pid in first[:3]:
            page.locator(f'[id="paper-{pid}"] button.save').click()
            page.wait_for_load_state()
        page.locator(f'[id="paper-{first[3]}"] button.like').click()
        page.wait_for_load_state()
        assert page.locator("button.on.save").count() == 3 and page.locator("button.on.like").count() == 1
        page.screenshot(path=str(tmp_path / "cards.png"))

        page.click("#for-you-link")
        page.wait_for_url(re.compile(r"sort=for-you"))
        reload_until(page, lambda: page.locator("#for-you-notice").count() == 0 and page.locator("p.why").count() > 0)
        ranked = cards(page)
        assert not set(ranked) & set(first)
        assert sum(corpus.topic_of(pid) == "llm-quant" for pid in ranked) >= 15
        assert "for:" in page.locator("p.why").first.inner_text()
        page.screenshot(path=str(tmp_path / "for-you.png"))

        top = ranked[0]
        page.locator(f'[id="paper-{top}"] button.dislike').click()
        page.wait_for_load_state()
        reload_until(page, lambda: top not in cards(page) and page.locator("#for-you-notice").count() == 0)
        assert cards(page) != ranked

        page.click("#my-library")
        page.fill("#mute-phrase", "Robots")
        page.click("#mute-button")
        page.wait_for_selector(".muted-word")
        assert page.locator(".muted-word").all_inner_texts() == ["robots"]
        assert page.locator("#save .paper").count() == 3 and page.locator("#dislike .paper").count() == 1
        page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
        bib = page.request.get(server.base + "/-/library.bib").text()
        assert sorted(e["eprint"] for e in bibtexparser.parse_string(bib).entries) == sorted(first[:3])

        page.goto(server.base + "/browse?q=robot")
        assert page.locator("#muted-line").is_visible() and page.locator("#empty").is_visible()
        page.screenshot(path=str(tmp_path / "muted.png"), full_page=True)

        page.locator("#sign-out").click()
        page.wait_for_selector("#sign-in")
        assert page.request.get(server.base + "/-/library.json").status == 403
        page.goto(server.base + "/browse?q=robot")
        assert len(cards(page)) == 20
    assert page.dialogs == []
    assert (tmp_path / "for-you.png").stat().st_size > 20_000
