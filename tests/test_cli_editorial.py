"""End to end: CLI -> local arXiv stand-in -> SQLite -> the newsletter's markdown."""

from __future__ import annotations

import shutil

import pytest

from papertrack.store.schema import open_db
from tests.helpers import FIXTURES, make_paper

QUERIES = """\
queries:
  - name: nas
    source: arxiv
    query: 'abs:architecture AND cat:cs.LG'
    tags: [nas]
taxonomy:
  quantization: ['quantiz\\w*']
  nas:
    include: ['architecture search']
"""

PAPERS = [
    make_paper(
        "1909.04977",
        title="CARS: Continuous Evolution for Efficient Neural Architecture Search",
        abstract="We develop an efficient continuous evolutionary approach for neural architecture search.",
        comment="CVPR 2020. Code is available at https://github.com/huawei-noah/CARS",
        published="2019-09-11T09:20:54Z",
        updated="2019-09-11T09:20:54Z",
    ),
    make_paper(
        "1909.05000",
        title="Quantized architecture search",
        abstract="We propose quantized neural architecture search.",
        published="2019-09-12T00:00:00Z",
        updated="2019-09-12T00:00:00Z",
    ),
    make_paper(
        "1909.10788",
        title="IR-Net",
        abstract="We propose IR-Net for binary networks, no architecture.",
        categories=["cs.CV"],
        published="2019-09-24T00:00:00Z",
        updated="2019-09-24T00:00:00Z",
    ),
    make_paper(
        "2002.02925",
        title="BERT-of-Theseus",
        abstract="We compress BERT.",
        categories=["cs.CL"],
        published="2020-02-07T00:00:00Z",
        updated="2020-02-07T00:00:00Z",
    ),
    make_paper(
        "2205.14135",
        title="FlashAttention",
        abstract="We propose FlashAttention.",
        categories=["cs.LG"],
        published="2022-05-27T00:00:00Z",
        updated="2022-05-27T00:00:00Z",
    ),
    make_paper(
        "2001.00007",
        title="Paper 7",
        abstract="We propose seven.",
        categories=["cs.CV"],
        published="2020-01-08T00:00:00Z",
        updated="2020-01-08T00:00:00Z",
    ),
]


@pytest.fixture
def harvested(run_cli, replay, tmp_path):
    server = replay(PAPERS)
    (tmp_path / "queries.yaml").write_text(QUERIES)
    env = {"PAPERTRACK_ARXIV_URL": server.url}
    result = run_cli("harvest", env=env)
    assert result.exit_code == 0, result.output

    def cli(*args):
        return run_cli(*args, env=env)

    cli.server = server
    return cli


def tags_of(tmp_path, pid):
    db = open_db(tmp_path / "db" / "papers.db")
    return {
        r[0]: r[1]
        for r in db.execute(
            "select t.name, pt.origin from papers_tags pt join tags t on t.id = pt.tags_id where pt.papers_id = ?", [pid]
        )
    }


def test_tag_untag_retag(harvested, tmp_path):
    assert tags_of(tmp_path, "1909.05000") == {"nas": "query,taxonomy", "quantization": "taxonomy"}
    result = harvested("tag", "1909.05000", "editors-pick", "mobile")
    assert result.exit_code == 0 and result.output == "1909.05000: editors-pick, mobile, nas, quantization\n"
    result = harvested("untag", "https://arxiv.org/abs/1909.05000v1", "quantization")
    assert result.output == "https://arxiv.org/abs/1909.05000v1: editors-pick, mobile, nas\n"
    result = harvested("retag")
    assert result.exit_code == 0, result.output
    assert "2 papers: 0 tag links added, 0 removed" in result.output
    assert tags_of(tmp_path, "1909.05000") == {"editors-pick": "manual", "mobile": "manual", "nas": "query,taxonomy"}
    assert harvested("harvest", "--full").exit_code == 0
    assert "quantization" not in tags_of(tmp_path, "1909.05000")


def test_unknown_paper_is_one_line_exit_2(harvested):
    result = harvested("tag", "1234.56789", "x")
    assert (result.exit_code, result.output) == (2, "Error: no paper '1234.56789' in the database\n")


@pytest.mark.parametrize(
    "args",
    [
        ("note", "1909.04977", "--summary", "\udcce\udcd2"),
        ("pick", "--issue", "2020-03-19", "\udcff"),
        ("tag", "1909.04977", "\udcff"),
    ],
)
def test_text_that_is_not_utf8_is_one_line_exit_2(harvested, tmp_path, args):
    """An argument in another encoding than the terminal's (a GBK file passed as
    `--summary "$(cat summary.txt)"` in a UTF-8 locale) reaches Python with surrogates in
    place of its bytes, which SQLite cannot take: one line, exit 2, nothing stored."""
    result = harvested(*args)
    assert result.exit_code == 2 and result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "convert it to UTF-8" in result.output
    db = open_db(tmp_path / "db" / "papers.db")
    assert db.execute("select count(*) from notes").fetchone()[0] == 0


def test_note_pick_unpick_digest(harvested, tmp_path):
    result = harvested(
        "note",
        "1909.04977",
        "--headline",
        "CARS：华为的结构搜索",
        "--source",
        "智东西",
        "--source-url",
        "https://mp.weixin.qq.com/s/cars",
        "--summary",
        "编辑写的摘要。",
    )
    assert result.exit_code == 0 and "headline: CARS：华为的结构搜索" in result.output
    assert (
        harvested("pick", "1909.04977", "1909.05000", "--issue", "2020-03-19").output
        == "picked for 2020-03-19: 1909.04977, 1909.05000\n"
    )
    assert harvested("unpick", "1909.05000", "--issue", "2020-03-19").output == "unpicked from 2020-03-19: 1909.05000\n"
    result = harvested("digest", "--issue", "2020-03-19", "-o", "out.md")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.md").read_text(encoding="utf-8") == (
        "## 论文\n\n"
        "- [CVPR2020] [CARS：华为的结构搜索 | 智东西](https://mp.weixin.qq.com/s/cars)  \n"
        "标题：CARS: Continuous Evolution for Efficient Neural Architecture Search  \n"
        "链接：https://arxiv.org/abs/1909.04977  \n"
        "代码：https://github.com/huawei-noah/CARS  \n"
        "摘要：编辑写的摘要。  \n"
    )
    assert "1 entry (the picks for 2020-03-19) -> out.md" in result.output
    result = harvested("digest", "--from", "2019-09-01", "--to", "2019-09-30", "--issue", "2020-04-04", "--lang", "en")
    assert result.exit_code == 0
    assert "warning: 1909.04977 was already featured in 2020-03-19" in result.output
    assert "## Papers" in result.output and "Title: Quantized architecture search  " in result.output


def test_digest_usage_errors(harvested):
    result = harvested("digest", "--from", "2019-09-01", "--to", "yesterday")
    assert (result.exit_code, result.output) == (
        2,
        "Error: Invalid value for '--to': 'yesterday' is not a date (YYYY-MM-DD)\n",
    )
    assert (
        harvested("pick", "1909.04977", "--issue", "2020-3-19").output
        == "Error: Invalid value for '--issue': '2020-3-19' is not a date (YYYY-MM-DD)\n"
    )


def test_import_digest(harvested, tmp_path):
    for name in ("2020-03-19.md", "2020-04-04.md"):
        shutil.copy(FIXTURES / "newsletter" / name, tmp_path / name)
    before = len(harvested.server.log.requests)
    result = harvested("import-digest", "2020-03-19.md", "2020-04-04.md")
    assert result.exit_code == 0, result.output
    assert len(harvested.server.log.requests) == before + 1  # the 4 unknown papers in one request
    assert result.output.splitlines()[2].split() == ["2020-03-19.md", "2020-03-19", "3", "1"]
    assert "skipped 2020-04-04.md: line 13: no arXiv link (To Compress or Not to Compress)" in result.output
    result = harvested("digest", "--issue", "2020-04-04")
    assert (
        "- [IR-Net：信息保留的二值神经网络，落地性能和实用性俱佳 | 机器学习研究组](https://mp.weixin.qq.com/s/irnet)  "
        in result.output
    )
    result = harvested("import-digest", "missing.md")
    assert (result.exit_code, result.output) == (2, "Error: missing.md: cannot read file: No such file or directory\n")


def test_demo_writes_a_digest_example(tmp_path):
    from papertrack.config import load_config
    from papertrack.demo import DEMO_PICKS, build_demo, build_demo_digest
    from tests.helpers import ROOT

    build_demo(load_config(ROOT / "queries.yaml"), tmp_path / "demo.db")
    text = build_demo_digest(tmp_path / "demo.db").read_text(encoding="utf-8")
    assert text.startswith("## 论文\n\n- [MLSys2020] [SLIDE : In Defense of Smart Algorithms")
    assert text.count("\n- [") == len(DEMO_PICKS)
    assert "- [Pattern Recognition 2020] [Binary Neural Networks: A Survey | arXiv]" in text
    survey = open_db(tmp_path / "demo.db")["papers"].get("2004.03333")
    assert (survey["venue_type"], survey["volume"], survey["pages"]) == ("journal", "105", "107281")
