"""The editor's desk in a real browser (headless Chromium, Playwright): sign in, pick
from the candidates, reorder, write a headline and 摘要 in Chinese, draft with a model
(the fake one, registered in this process, so the site runs here in a thread), accept a
draft, download the section and find it byte for byte what `papertrack digest` writes.
Screenshots of each step are left in the test's directory."""

from __future__ import annotations

import re
import threading
import time

import pytest
import uvicorn
from click.testing import CliRunner

from papertrack.cli import cli
from papertrack.web.accounts import accounts_of
from papertrack.web.serve import listen
from tests import rank_corpus as corpus
from tests.fake_llm import MODEL_ID, fake_model  # noqa: F401  (the fixture)
from tests.helpers import site_with_accounts
from tests.test_browser import CHROMIUM, browser_page  # noqa: F401  (the fixture)
from tests.test_desk import picked_corpus

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
PASSWORD = "correct horse battery"
ISSUE = "2024-03-15"


@pytest.fixture
def site(tmp_path, fake_model):  # noqa: F811
    picked_corpus(tmp_path / "papers.db").close()
    ds = site_with_accounts(tmp_path, {"ed": "editor"}, PASSWORD, papers=tmp_path / "papers.db")
    ds._metadata_local.setdefault("plugins", {}).setdefault("papertrack", {})["draft_model"] = MODEL_ID
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the site did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    accounts_of(ds).close()


def picks(page) -> list[str]:
    return [i.removeprefix("pick-") for i in page.locator("article.pick").evaluate_all("els => els.map(e => e.id)")]


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def test_the_editor_puts_an_issue_together_in_chromium(site, tmp_path, browser_page, fake_model):  # noqa: F811
    page = browser_page
    page.goto(site + "/-/login?next=/-/desk")
    page.fill("#username", "ed")
    page.fill("#password", PASSWORD)
    submit(page, "#sign-in-button")
    page.goto(f"{site}/-/desk?issue={ISSUE}")
    assert page.locator("#from").input_value() == "2024-03-01" and page.locator("#to").input_value() == "2024-03-14"
    groups = page.locator(".group h3").all_inner_texts()
    assert groups and groups[0].startswith("ml")
    page.goto(f"{site}/-/desk?issue={ISSUE}&from=2024-02-01")  # six weeks: more of the topic than was featured
    page.screenshot(path=str(tmp_path / "desk-candidates.png"))

    first = page.locator("#group-ml > .cand").evaluate_all("els => els.map(e => e.id.slice(5))")[:3]
    assert [corpus.topic_of(pid) for pid in first] == ["llm-quant"] * 3  # best first for the editor's picks
    for pid in first:
        submit(page, f'[id="cand-{pid}"] button.pick')
    assert picks(page) == first
    submit(page, f'[id="pick-{first[0]}"] button.down')
    assert picks(page) == [first[1], first[0], first[2]]

    card = page.locator(f'[id="pick-{first[1]}"]')
    card.locator("input[name=headline]").fill("KV 缓存量化：4 比特也不掉点")
    card.locator("input[name=source]").fill("机器之心")
    card.locator("input[name=source_url]").fill("https://mp.weixin.qq.com/s/abc")
    card.locator("textarea[name=summary]").fill("本文提出一种大模型 KV 缓存的低比特量化方法。\n在 4 比特下精度几乎无损。")
    submit(page, f'[id="pick-{first[1]}"] button.save-note')
    section = page.locator("#digest").inner_text()
    assert "- [KV 缓存量化：4 比特也不掉点 | 机器之心](https://mp.weixin.qq.com/s/abc)" in section
    assert "摘要：本文提出一种大模型 KV 缓存的低比特量化方法。\n在 4 比特下精度几乎无损。" in section.replace("  \n", "\n")
    page.locator(f'[id="pick-{first[1]}"]').screenshot(path=str(tmp_path / "desk-edit.png"))
    page.locator("#digest").screenshot(path=str(tmp_path / "desk-section.png"))

    submit(page, "#draft-all")
    assert len(fake_model.prompts) == 3 and "Drafted 3 with papertrack-fake." in page.inner_text(".message-info, .message")
    assert page.locator(".draft .headline").count() == 3 and page.locator("button.accept").count() == 3
    page.locator("#picks").screenshot(path=str(tmp_path / "desk-draft.png"))

    submit(page, f'[id="pick-{first[2]}"] button.accept')
    assert page.locator(f'[id="pick-{first[2]}"] .accepted').inner_text() == "Accepted"
    section = page.locator("#digest").inner_text()
    assert "：一种更小更快的网络 | arXiv]" in section and "KV 缓存量化" in section  # the editor's text still wins
    page.locator("#picks").screenshot(path=str(tmp_path / "desk-accept.png"))
    page.screenshot(path=str(tmp_path / "desk.png"), full_page=True)
    page.goto(f"{site}/-/desk?issue={ISSUE}&from=2024-02-01#candidates")
    page.screenshot(path=str(tmp_path / "desk-top.png"))  # docs/desk.png

    with page.expect_download() as download:
        page.click("#download")
    download.value.save_as(tmp_path / "download.md")
    downloaded = (tmp_path / "download.md").read_bytes()
    (tmp_path / "queries.yaml").write_text(corpus.QUERIES, encoding="utf-8")
    args = ["--db", str(tmp_path / "papers.db"), "--queries", str(tmp_path / "queries.yaml"), "--issue", ISSUE]
    assert CliRunner().invoke(cli, ["digest", *args, "-o", str(tmp_path / "cli.md")]).exit_code == 0
    assert downloaded == (tmp_path / "cli.md").read_bytes()
    assert re.sub(r" +\n", "\n", downloaded.decode("utf-8")).strip() == re.sub(r" +\n", "\n", section).strip()
    assert page.dialogs == []
