"""The newsletter's papers section: exact format, window selection, picks, editor overrides."""

from __future__ import annotations

import pytest

from papertrack.config import parse_config
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import UsageError
from papertrack.newsletter.digest import md_escape, render, select
from papertrack.newsletter.editorial import Note, featured, pick, set_note, unpick
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries, tag_order
from papertrack.store.schema import transaction
from tests.helpers import make_paper

CONFIG = parse_config("""\
queries:
  - {name: nas, source: arxiv, query: 'ti:search', tags: [nas]}
  - {name: bnn, source: arxiv, query: 'ti:binary', tags: [binarization]}
taxonomy:
  quantization: ['quantiz\\w*']
""")

CARS = make_paper(
    "1909.04977",
    title="CARS: Continuous Evolution for Efficient Neural Architecture Search",
    abstract="Searching techniques in most of existing neural architecture search (NAS) algorithms are mainly "
    "dominated by differentiable methods for the efficiency reason. We develop an efficient continuous "
    "evolutionary approach for searching neural networks. Code: https://github.com/huawei-noah/CARS",
    comment="CVPR 2020. Code is available at https://github.com/huawei-noah/CARS",
    published="2019-09-11T09:20:54Z",
    updated="2020-03-13T10:00:00Z",
)
IRNET = make_paper(
    "1909.10788",
    title="Forward and Backward Information Retention for Accurate Binary Neural Networks",
    abstract="We propose IR-Net, a binary network.",
    published="2019-09-24T00:00:00Z",
)
QUANT = make_paper(
    "1909.20000",
    title="A <b>bold</b> [quantized] *model*",
    abstract="We propose a quantized net.",
    published="2019-09-30T23:00:00Z",
)
OLD = make_paper("1812.00332", title="ProxylessNAS", abstract="We propose ProxylessNAS.", published="2018-12-02T00:00:00Z")


@pytest.fixture
def news(db):
    ids = sync_queries(db, CONFIG.queries)
    taxonomy = Taxonomy(CONFIG.taxonomy)
    with transaction(db):
        save_papers(db, [CARS, OLD], query_id=ids["nas"], taxonomy=taxonomy, now="2020-03-01T00:00:00Z")
        save_papers(db, [IRNET], query_id=ids["bnn"], taxonomy=taxonomy, now="2019-10-01T00:00:00Z")
        save_papers(db, [QUANT], taxonomy=taxonomy, now="2019-10-01T00:00:00Z")
    return db


def digest(db, *args, lang="zh", **kw):
    kw.setdefault("tag_order", tag_order(db))
    return render(select(db, *args, **kw), lang)


def test_exact_entry_format(news):
    out = digest(news, "2019-09-01", "2019-09-15")
    assert out == (
        "## 论文\n"
        "\n"
        "- [CVPR2020] [CARS: Continuous Evolution for Efficient Neural Architecture Search | arXiv]"
        "(https://arxiv.org/abs/1909.04977)  \n"
        "标题：CARS: Continuous Evolution for Efficient Neural Architecture Search  \n"
        "链接：https://arxiv.org/abs/1909.04977  \n"
        "代码：https://github.com/huawei-noah/CARS  \n"
        "摘要：We develop an efficient continuous evolutionary approach for searching neural networks.  \n"
    )
    assert all(line.endswith("  ") for line in out.splitlines()[2:])


def test_english_labels(news):
    out = digest(news, "2019-09-01", "2019-09-15", lang="en")
    assert out.splitlines()[0] == "## Papers"
    assert [line.split(":")[0] for line in out.splitlines()[3:]] == ["Title", "Link", "Code", "Summary"]


def test_window_is_inclusive_and_grouped_by_tag_order(news):
    out = select(news, "2019-09-11", "2019-09-30", tag_order=tag_order(news))
    # nas first, then binarization, then the taxonomy's quantization; each paper once
    assert [e.id for e in out.entries] == ["1909.04977", "1909.10788", "1909.20000"]
    assert [e.id for e in select(news, "2019-09-12", "2019-09-29").entries] == ["1909.10788"]
    assert select(news, "2019-10-01", "2019-10-31").entries == []


def test_tag_filter_and_first_seen(news):
    assert [e.id for e in select(news, "2018-01-01", "2020-12-31", tags=["nas"]).entries] == ["1909.04977", "1812.00332"]
    # first seen in October 2019: the two saved then, whatever their publication date
    assert {e.id for e in select(news, "2019-10-01", "2019-10-31", first_seen=True).entries} == {"1909.10788", "1909.20000"}


def test_hostile_text_is_escaped(news):
    out = digest(news, "2019-09-30", "2019-09-30")
    assert r"[A \<b\>bold\</b\> \[quantized\] \*model\* | arXiv](https://arxiv.org/abs/1909.20000)" in out
    assert "<b>" not in out
    assert md_escape("a\n- b | `c` &amp;") == r"a - b \| \`c\` \&amp;"


def test_picks_make_the_digest_exactly(news):
    pick(news, ["1812.00332", "1909.10788"], issue="2020-03-19")
    out = select(news, "2019-09-01", "2019-09-30", issue="2020-03-19")
    assert out.mode == "picks" and [e.id for e in out.entries] == ["1812.00332", "1909.10788"]
    assert unpick(news, ["1812.00332", "1909.04977"], issue="2020-03-19") == ["1812.00332"]
    assert [e.id for e in select(news, issue="2020-03-19").entries] == ["1909.10788"]
    unpick(news, ["1909.10788"], issue="2020-03-19")
    assert select(news, "2019-09-01", "2019-09-15", issue="2020-03-19").mode == "window"
    with pytest.raises(UsageError, match="nothing is picked for 2020-03-19: give a date window"):
        select(news, issue="2020-03-19")


def test_editor_overrides(news):
    set_note(
        news,
        "1909.04977",
        Note(
            headline="CARS: 华为基于进化算法的神经网络结构搜索",
            source="智东西",
            source_url="https://mp.weixin.qq.com/s/cars",
            summary="第一行\n第二行",
            code_url="https://gitlab.com/x/cars",
        ),
    )
    out = digest(news, "2019-09-01", "2019-09-15")
    assert out.splitlines()[2:] == [
        "- [CVPR2020] [CARS: 华为基于进化算法的神经网络结构搜索 | 智东西](https://mp.weixin.qq.com/s/cars)  ",
        "标题：CARS: Continuous Evolution for Efficient Neural Architecture Search  ",
        "链接：https://arxiv.org/abs/1909.04977  ",
        "代码：https://gitlab.com/x/cars  ",
        "摘要：第一行  ",
        "第二行  ",
    ]
    paper = news["papers"].get("1909.04977")
    assert (paper["summary"], paper["code_url"]) == ("第一行\n第二行", "https://gitlab.com/x/cars")


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (
            '见[slide](https://speakerdeck.com/x)与[a](<HTTP://a.example/> "t")',
            '见[slide](https://speakerdeck.com/x)与[a](<HTTP://a.example/> "t")',
        ),
        (
            "IPC < 1.0，极低比特(<4bit)，<https://cs217.stanford.edu>",
            "IPC < 1.0，极低比特(<4bit)，<https://cs217.stanford.edu>",
        ),
        ("[x](javascript:alert(1)) ![i]( data:text/html,x)", "[x]\\(javascript:alert(1)) ![i]\\( data:text/html,x)"),
        ("[x](\njavascript:alert(1))", "[x]\\(  \njavascript:alert(1))"),
        (
            '<javascript:alert(1)> <a href="javascript:x">y</a> <img src=x onerror=alert(1)>',
            '\\<javascript:alert(1)> \\<a href="javascript:x">y\\</a> \\<img src=x onerror=alert(1)>',
        ),
        ("\\<b>escaped\\</b> \\\\<script>x", "\\<b>escaped\\</b> \\\\\\<script>x"),
    ],
)
def test_links_in_the_editors_summary_are_http_only(news, summary, expected):
    """The editor's 摘要 keeps their markdown and its http(s) links; a link to anything else
    (`javascript:`, `data:`), an autolink or raw HTML (`<a href>`, `onerror`) is made plain text."""
    set_note(news, "1909.04977", Note(summary=summary))
    out = digest(news, "2019-09-01", "2019-09-15")
    assert out.split("摘要：", 1)[1] == expected + "  \n"


def test_note_survives_reharvest_and_clearing_restores_derived(news):
    set_note(news, "1909.04977", Note(summary="编辑的摘要", code_url="https://github.com/editor/cars"))
    newer = make_paper(
        "1909.04977",
        title=CARS.title,
        abstract=CARS.abstract + " Now better.",
        version=2,
        published=CARS.published,
        updated="2020-04-01T00:00:00Z",
        comment=CARS.comment,
    )
    with transaction(news):
        save_papers(news, [newer])
    paper = news["papers"].get("1909.04977")
    assert (paper["summary"], paper["code_url"], paper["version"]) == ("编辑的摘要", "https://github.com/editor/cars", 2)
    set_note(news, "1909.04977", Note(summary="", code_url=""))
    paper = news["papers"].get("1909.04977")
    assert (
        paper["summary"].startswith("We develop an efficient") and paper["code_url"] == "https://github.com/huawei-noah/CARS"
    )


def test_note_validates_urls_and_wants_a_field(news):
    with pytest.raises(UsageError, match="source URL 'mp.weixin.qq.com/x' is not an http"):
        set_note(news, "1909.04977", Note(source_url="mp.weixin.qq.com/x"))
    with pytest.raises(UsageError, match="a note needs at least one of: headline, summary"):
        set_note(news, "1909.04977", Note())


def test_warns_about_papers_featured_before(news):
    pick(news, ["1909.04977"], issue="2020-03-02")
    pick(news, ["1909.04977"], issue="2020-03-19")
    result = select(news, "2019-09-01", "2019-09-15", issue="2020-04-04")
    assert result.warnings == ["1909.04977 was already featured in 2020-03-02, 2020-03-19"]
    assert select(news, issue="2020-03-02").warnings == []
    assert featured(news, ["1909.04977"], before="2020-03-19") == {"1909.04977": ["2020-03-02"]}


@pytest.mark.parametrize(
    "args, message",
    [
        (("2019-13-01", "2019-12-01"), "window start '2019-13-01' is not a date"),
        (("2019-12-01", "2019-11-01"), r"the date window ends \(2019-11-01\) before it starts \(2019-12-01\)"),
        ((None, None), "give a date window"),
    ],
)
def test_bad_windows(news, args, message):
    with pytest.raises(UsageError, match=message):
        select(news, *args)


def test_lines_of_the_editors_summary_that_would_end_the_entry_are_made_text(news):
    """A line of the 摘要 that would start a block of its own (an ordered list in either
    form, a heading, a quote, a code fence, a rule) would end the entry's list item and
    break the section: it is escaped (an ordered list's `.` or `)`, as past issues' indented
    lists are imported: a backslash before the number would show); inline markdown stays."""
    summary = "贡献：\n1) 提出 A\n    2. 验证 B\n# 结论\n> 引用\n```\n---\n***\n**重点**\n#MNN 和 2)"
    set_note(news, "1909.04977", Note(summary=summary))
    out = digest(news, "2019-09-01", "2019-09-15")
    assert out.split("摘要：", 1)[1].split("  \n") == [
        "贡献：", "1\\) 提出 A", "    2\\. 验证 B", "\\# 结论", "\\> 引用", "\\```", "\\---", "\\***", "**重点**",
        "#MNN 和 2)", "",
    ]  # fmt: skip
