"""Editorial history: past issues (markdown) into picks and notes; missing papers in one request."""

from __future__ import annotations

import pytest

from papertrack.errors import ConfigError, SourceError
from papertrack.newsletter.digest import render, select
from papertrack.newsletter.editorial import Note, set_note
from papertrack.newsletter.past_issues import import_issues, parse_issue, read_issues
from papertrack.sources.arxiv import ArxivClient
from papertrack.store.papers import save_papers
from papertrack.store.schema import transaction
from tests.helpers import FIXTURES, make_paper, requires_shared

ISSUES = FIXTURES / "newsletter"
ARXIV_IDS = ["1909.04977", "2002.02925", "2001.00007", "1909.10788", "2205.14135"]


def test_parse_an_issue():
    issue = parse_issue((ISSUES / "2020-03-19.md").read_text(), str(ISSUES / "2020-03-19.md"))
    assert issue.issue == "2020-03-19"
    assert [e.paper for e in issue.entries] == ["1909.04977", None, "2002.02925", "2001.00007"]
    cars = issue.entries[0]
    assert (cars.label, cars.source, cars.source_url, cars.code_url) == (
        "CVPR2020",
        "智东西",
        "https://mp.weixin.qq.com/s/cars",
        "https://github.com/huawei-noah/CARS",
    )
    assert cars.headline == "CARS: 华为基于进化算法和权值共享的神经网络结构搜索，CIFAR-10上仅需单卡半天"
    assert cars.summary.splitlines() == [
        "现如今进化算法、梯度、强化学习都可以做结构搜索。",
        "为了最大化上一次进化过程学习到的知识的价值，作者提出了连续进化结构搜索方法。",
        "1. 首先初始化一个超网；",
        "2. 然后训练子网。",
    ]
    assert issue.entries[3].source is None and issue.entries[3].label == "2001.00007"


def test_links_in_any_field_and_empty_headline_urls():
    issue = parse_issue((ISSUES / "2020-04-04.md").read_text(), "2020-04-04.md")
    assert [(e.paper, e.source_url) for e in issue.entries] == [
        ("1909.10788", "https://mp.weixin.qq.com/s/irnet"),
        (None, "https://www.sysml.cc/doc/2019/127.pdf"),
        ("2205.14135", None),
    ]


@pytest.mark.parametrize(
    "text, path, issue",
    [
        ("---\ndate: 2021-01-05\n---\n## 论文\n", "anything.md", "2021-01-05"),
        ("# 嵌入式AI简报 (2021-01-19)\n", "notes.md", "2021-01-19"),
        ("# title\n", "issue-2019-03-31.md", "2019-03-31"),
    ],
)
def test_issue_date_sources(text, path, issue):
    assert parse_issue(text, path).issue == issue


def test_no_date_is_an_error_naming_the_file():
    with pytest.raises(ConfigError, match="notes.md: no issue date"):
        parse_issue("# no date\n", "notes.md")


def stand_in(replay, ids=ARXIV_IDS):
    return replay([make_paper(pid, title=f"Paper {pid}", abstract=f"We propose method {pid}.") for pid in ids])


def test_import_fetches_all_missing_papers_in_one_request(db, replay):
    with transaction(db):
        save_papers(db, [make_paper("1909.10788", abstract="We propose IR-Net.")])
    server = stand_in(replay)
    reports = import_issues(db, sorted(ISSUES.glob("*.md")), ArxivClient(server.url, delay=0))
    assert len(server.log.requests) == 1
    asked = server.log.requests[0]["args"]["id_list"].split(",")
    assert sorted(asked) == sorted(set(ARXIV_IDS) - {"1909.10788"})
    assert [(r.issue, r.featured) for r in reports] == [
        ("2020-03-19", ["1909.04977", "2002.02925", "2001.00007"]),
        ("2020-04-04", ["1909.10788", "2205.14135"]),
    ]
    assert [len(r.skipped) for r in reports] == [1, 1]
    assert "no arXiv link (二值神经网络(Binary Neural Networks)最新综述)" in reports[0].skipped[0]
    picks = {(r["papers_id"], r["issue"]) for r in db["picks"].rows}
    assert ("1909.04977", "2020-03-19") in picks and len(picks) == 5
    cars = db["notes"].get("1909.04977")
    assert (cars["source"], cars["source_url"], cars["code_url"]) == (
        "智东西",
        "https://mp.weixin.qq.com/s/cars",
        "https://github.com/huawei-noah/CARS",
    )
    assert db["papers"].get("1909.04977")["summary"].startswith("现如今进化算法")


def test_imported_issue_renders_back_in_the_same_shape(db, replay):
    import_issues(db, [ISSUES / "2020-04-04.md"], ArxivClient(stand_in(replay).url, delay=0))
    out = render(select(db, issue="2020-04-04"))
    assert (
        "- [IR-Net：信息保留的二值神经网络，落地性能和实用性俱佳 | 机器学习研究组](https://mp.weixin.qq.com/s/irnet)  "
        in out
    )
    assert "摘要：**加粗**的编辑摘要保留 markdown。  " in out  # the editor's markdown is theirs


def test_an_issue_papertrack_wrote_imports_back_to_the_same_section(db, tmp_path):
    """The digest escapes markdown in headlines and sources (`\\[`, `\\*`, `\\|`); importing
    the issue once it is out reads them as the text they stand for, not with the backslashes
    (which the next digest would escape again)."""
    with transaction(db):
        save_papers(db, [make_paper("1911.11907", title="A [bold] *title* | with_underscores <b>")])
    set_note(db, "1911.11907", Note(source="华为诺亚 [北大] | *x*"))
    set_note(db, "1911.11907", Note(headline="GhostNet：[测试] *强调* | 竖线 a_b \\ c"))
    set_note(db, "1911.11907", Note(source_url="https://mp.weixin.qq.com/s/a(b)"))
    from papertrack.newsletter.editorial import pick

    pick(db, ["1911.11907"], "2020-03-19")
    written = render(select(db, issue="2020-03-19"))
    db.execute("delete from notes")
    db.execute("delete from picks")
    (tmp_path / "2020-03-19.md").write_text(f"# 简报\n\n{written}\n## 开源项目\n", encoding="utf-8")
    import_issues(db, [tmp_path / "2020-03-19.md"])
    note = db["notes"].get("1911.11907")
    assert (note["headline"], note["source"]) == ("GhostNet：[测试] *强调* | 竖线 a_b \\ c", "华为诺亚 [北大] | *x*")
    assert render(select(db, issue="2020-03-19")) == written


def test_editor_notes_win_over_a_reimport(db, replay):
    server = stand_in(replay)
    import_issues(db, [ISSUES / "2020-04-04.md"], ArxivClient(server.url, delay=0))
    set_note(db, "1909.10788", Note(headline="我的标题"))
    import_issues(db, [ISSUES / "2020-04-04.md"], ArxivClient(server.url, delay=0))
    assert db["notes"].get("1909.10788")["headline"] == "我的标题"
    assert len(server.log.requests) == 1  # nothing missing the second time
    assert db["picks"].count == 2


def test_unknown_ids_are_reported_and_a_failed_fetch_writes_nothing(db, replay, scripted_server):
    reports = import_issues(db, [ISSUES / "2020-04-04.md"], ArxivClient(stand_in(replay, ["1909.10788"]).url, delay=0))
    assert reports[0].featured == ["1909.10788"]
    assert any("2205.14135 not found on arXiv" in s for s in reports[0].skipped)
    down = scripted_server([(500, b"oops", {})])
    with pytest.raises(SourceError):
        import_issues(db, [ISSUES / "2020-03-19.md"], ArxivClient(down.url, delay=0, retries=0, content_retries=0))
    assert db["picks"].count == 1


@pytest.mark.shared
def test_the_real_newsletter_archive(db, replay):
    folder = requires_shared("data", "newsletter")
    issues = read_issues(sorted(folder.glob("*.md")))
    assert len(issues) == 44 and len({i.issue for i in issues}) == 44
    ids = sorted({e.paper for i in issues for e in i.entries if e.paper})
    assert len(ids) >= 60
    server = stand_in(replay, ids)
    reports = import_issues(db, sorted(folder.glob("*.md")), ArxivClient(server.url, delay=0))
    assert len(server.log.requests) == 1
    assert sum(len(r.featured) for r in reports) == sum(1 for i in issues for e in i.entries if e.paper)
    assert db["papers"].count == len(ids)
    ir_net = db["notes"].get("1909.10788")
    assert ir_net["source"] == "机器学习研究组" and ir_net["code_url"] == "https://github.com/htqin/IR-Net"
