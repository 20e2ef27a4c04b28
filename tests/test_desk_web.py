"""The editor's desk in-process (datasette.client): every route for editors, readers,
anonymous visitors, without CSRF, on a site without accounts and on an immutable copy;
writes under the database's lock; escaping; drafts with a fake model; and the desk's
digest.md byte for byte what `papertrack digest --issue` writes."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from html import unescape
from urllib.parse import urlencode

import feedparser
import llm
import pytest
from click.testing import CliRunner

from papertrack.cli import cli
from papertrack.newsletter import desk
from papertrack.sources.locks import database_lock
from papertrack.store.schema import open_db
from papertrack.store.tags import tag, untag
from papertrack.web.accounts import accounts_of, form_bound
from papertrack.web.desk import LIMITS
from papertrack.web.posts import MAX_BODY
from papertrack.web.serve import datasette_for
from tests import papers_db
from tests.fake_llm import MODEL_ID, fake_model  # noqa: F401  (the fixture)
from tests.helpers import CookieClient, site_with_accounts

PASSWORD = "correct horse battery"
ISSUE = "2030-01-20"  # papers_db's papers are from 2010-2021 and the last few days: a window of its own
POSTS = ["/-/desk/pick", "/-/desk/unpick", "/-/desk/move", "/-/desk/note", "/-/desk/draft", "/-/desk/accept"]
GETS = [f"/-/desk?issue={ISSUE}", f"/-/desk/digest.md?issue={ISSUE}"]


@pytest.fixture
def site(tmp_path):
    ds = site_with_accounts(tmp_path, {"ed": "editor", "rita": "reader"}, PASSWORD)
    loop = asyncio.new_event_loop()
    yield ds, loop, tmp_path
    accounts_of(ds).close()
    loop.close()


def client(site, name: str | None = None) -> CookieClient:
    c = CookieClient(site[0], site[1])
    if name:
        c.login(name, PASSWORD)
    return c


def rows(site, sql: str) -> list[tuple]:
    conn = sqlite3.connect(site[2] / "papers.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def window_of(day: str) -> dict:
    return {"issue": ISSUE, "from": day, "to": day}


def test_readers_and_anonymous_visitors_get_403_everywhere_and_write_nothing(site):
    for who in (client(site, "rita"), client(site)):
        for path in GETS:
            assert who.get(path, status=403)
        for path in POSTS:
            response = who.post(path, {"issue": ISSUE, "paper": "2001.00007", "position": "1", "headline": "x"})
            assert response.status_code == 403, path
    assert rows(site, "select * from picks") == [] and rows(site, "select * from notes") == []
    assert 'id="desk-link"' not in client(site, "rita").get("/browse").text
    assert 'id="desk-link"' in client(site, "ed").get("/browse").text


def test_every_post_needs_the_csrf_token(site):
    ed = client(site, "ed")
    for path in POSTS:
        assert ed.post(path, {"issue": ISSUE, "paper": "2001.00007"}, csrf=False).status_code == 403
        assert ed.post(path, {"issue": ISSUE, "paper": "2001.00007", "csrftoken": "forged"}, csrf=False).status_code == 403
    assert rows(site, "select * from picks") == []


def test_no_desk_without_accounts_or_on_an_immutable_copy(tmp_path):
    path = papers_db.build(tmp_path / "papers.db")
    for ds in (datasette_for(path), datasette_for(path, immutable=True)):
        c = CookieClient(ds)
        for p in GETS:
            assert c.get(p, status=404)
        for p in POSTS:
            assert c.post(p, {"issue": ISSUE, "paper": "2001.00007"}, csrf=False).status_code == 404
        c.close()


def test_pick_reorder_note_and_the_section_in_order(site):
    ed = client(site, "ed")
    for pid in ("2001.00002", "2001.00003", "https://arxiv.org/abs/2001.00004v2"):
        response = ed.post("/-/desk/pick", {"issue": ISSUE, "paper": pid, "next": f"/-/desk?issue={ISSUE}"}, status=303)
        assert response.headers["location"] == f"/-/desk?issue={ISSUE}"
    moved = ed.post("/-/desk/move", {"issue": ISSUE, "paper": "2001.00004", "position": "1"},
                    headers={"accept": "application/json"}, status=200).json()  # fmt: skip
    assert moved["order"] == ["2001.00004", "2001.00002", "2001.00003"]
    zero = ed.post("/-/desk/move", {"issue": ISSUE, "paper": "2001.00003", "position": "0"},
                   headers={"accept": "application/json"}, status=400).json()  # fmt: skip
    assert "is not a number from 1" in zero["error"]  # as the CLI's --at: positions count from 1
    note = {"paper": "2001.00002", "headline": "二值网络：更小", "source": "机器之心",
            "source_url": "https://mp.weixin.qq.com/s/abc", "summary": "第一行\n第二行", "code": "https://github.com/a/b"}  # fmt: skip
    ed.post("/-/desk/note", note, status=303)
    assert ed.post("/-/desk/unpick", {"issue": ISSUE, "paper": "2001.00003"}, status=303)
    page = ed.get(f"/-/desk?issue={ISSUE}").text
    assert re.findall(r'<article class="pick" id="pick-([^"]+)"', page) == ["2001.00004", "2001.00002"]
    assert "Picked 2001.00004 for 2030-01-20." in page and "Saved the note of 2001.00002." in page  # the POSTs' messages
    section = unescape(re.search(r'<pre class="digest" id="digest">(.*?)</pre>', page, re.S).group(1))
    assert section.index("2001.00004") < section.index("[二值网络：更小 | 机器之心](https://mp.weixin.qq.com/s/abc)")
    assert "代码：https://github.com/a/b  \n摘要：第一行  \n第二行  \n" in section
    assert section == ed.get(f"/-/desk/digest.md?issue={ISSUE}").text


def test_the_desk_digest_is_byte_for_byte_the_clis(site, tmp_path, fake_model):  # noqa: F811
    ed = client(site, "ed")
    for pid in ("2001.00010", HOSTILE, "2001.00001"):
        ed.post("/-/desk/pick", {"issue": ISSUE, "paper": pid}, status=303)
    ed.post("/-/desk/move", {"issue": ISSUE, "paper": "2001.00001", "position": "2"}, status=303)
    ed.post(
        "/-/desk/note", {"paper": "2001.00010", "headline": "a *b* [c](d) | e", "summary": "- item\n<b>x</b>"}, status=303
    )
    ed.post("/-/desk/draft", {"issue": ISSUE, "model": MODEL_ID}, status=303)
    ed.post("/-/desk/accept", {"paper": HOSTILE}, status=303)
    (tmp_path / "queries.yaml").write_text("queries: []\n", encoding="utf-8")
    for extra, query in (([], {}), (["--lang", "en"], {"lang": "en"}), (["--drafts"], {"drafts": "1"})):
        out = tmp_path / "cli.md"
        result = CliRunner().invoke(cli, ["digest", "--db", str(site[2] / "papers.db"), "--queries",
                                          str(tmp_path / "queries.yaml"), "--issue", ISSUE, "-o", str(out), *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
        web = ed.get(f"/-/desk/digest.md?{urlencode({'issue': ISSUE, **query})}")
        assert web.content == out.read_bytes() and len(web.content) > 500
        assert web.headers["content-type"] == "text/markdown; charset=utf-8"
        assert web.headers["content-disposition"] == f'attachment; filename="papers-{ISSUE}.md"'
    assert "【草稿】" in ed.get(f"/-/desk/digest.md?issue={ISSUE}&drafts=1").text


HOSTILE = papers_db.HOSTILE_ID


def test_what_editors_type_is_escaped_and_links_are_http_only(site):
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00005"}, status=303)
    evil = {"paper": "2001.00005", "headline": '<script>alert("h")</script>', "summary": "<img src=x onerror=alert(1)>",
            "source": "<b>src</b>", "source_url": "https://x.example/?a=<script>", "code": "https://github.com/a/b?q=\"><x"}  # fmt: skip
    ed.post("/-/desk/note", evil, status=303)
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", " javascript:x", "http://"):
        response = ed.post("/-/desk/note", {"paper": "2001.00005", "source_url": bad}, status=400)
        assert "is not an http(s) URL" in response.text
        assert ed.post("/-/desk/note", {"paper": "2001.00005", "code": bad}, status=400)
    assert rows(site, "select source_url from notes") == [("https://x.example/?a=<script>",)]
    page = ed.get(f"/-/desk?issue={ISSUE}").text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>src" not in page
    assert "&lt;script&gt;alert(&#34;h&#34;)&lt;/script&gt;" in page
    md = ed.get(f"/-/desk/digest.md?issue={ISSUE}").text
    assert '[\\<script\\>alert("h")\\</script\\> | \\<b\\>src\\</b\\>](https://x.example/?a=%3Cscript%3E)' in md
    assert '代码：https://github.com/a/b?q="%3E%3Cx  \n' in md and "摘要：\\<img src=x onerror=alert(1)>  \n" in md
    atom = client(site).get("/browse.atom?q=binary").content  # the note's summary is the paper's summary
    assert b"<img" not in atom and b"&lt;img src=x onerror=alert(1)&gt;" in atom
    assert feedparser.parse(atom).bozo == 0


def test_every_field_may_be_as_long_as_its_limit_in_any_script(site):
    """A form's bound is sized from the fields' limits in characters: a 摘要 of 2,000 Chinese
    characters (18,000 bytes percent-encoded), and every field at its limit in characters
    of four UTF-8 bytes, are saved; one character more is a 400 naming the field."""
    ed = client(site, "ed")
    summary = "模型压缩与量化" * 285 + "二值网络的研究"[:5]
    assert len(summary) == 2000
    ed.post("/-/desk/note", {"paper": "2001.00006", "summary": summary}, status=303)
    assert rows(site, "select summary from notes where papers_id = '2001.00006'") == [(summary,)]
    links = ("source_url", "code")
    longest = {key: ("https://x.example/" if key in links else "") + "𝔸" * (limit - (18 if key in links else 0))
               for key, limit in LIMITS.items()}  # fmt: skip
    assert all(len(longest[key]) == limit for key, limit in LIMITS.items())
    ed.post("/-/desk/note", {"paper": "2001.00006", **longest}, status=303)
    assert rows(site, "select length(summary) from notes where papers_id = '2001.00006'") == [(LIMITS["summary"],)]
    too_long = ed.post("/-/desk/note", {"paper": "2001.00006", "summary": "量" * (LIMITS["summary"] + 1)}, status=400)
    assert "summary is longer than 10,000 characters" in too_long.text
    assert form_bound(LIMITS) < MAX_BODY  # inside the bound on every POST


def test_stored_links_that_are_not_http_never_reach_the_section(site):
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00006"}, status=303)
    conn = sqlite3.connect(site[2] / "papers.db")  # as an older papertrack or plain SQL might have left them
    with conn:
        conn.execute("insert into notes (papers_id, source_url, code_url) values ('2001.00006', 'javascript:x', 'data:y')")
    conn.close()
    md = ed.get(f"/-/desk/digest.md?issue={ISSUE}").text
    assert "javascript" not in md and "data:" not in md and "(https://arxiv.org/abs/2001.00006)" in md


def test_candidates_by_tag_with_featured_papers_apart(site):
    """Papers 6, 42, 78 and 114 were submitted on 2016-07-15, all tagged binarization and
    pruning; 42 is made a `mobile` paper alone, 78 was featured in an earlier issue."""
    db = open_db(site[2] / "papers.db")
    untag(db, "2001.00042", ["binarization", "pruning"])
    tag(db, "2001.00042", ["mobile"])
    db.close()
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": "2016-08-01", "paper": "2001.00078"}, status=303)  # an earlier issue
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00006"}, status=303)
    page = ed.get("/-/desk?" + urlencode(window_of("2016-07-15"))).text
    groups = re.findall(r'<div class="group" id="group-([^"]+)">', page)
    assert groups == ["binarization", "mobile"]  # the saved queries' tags first, then the others by name
    listed = re.findall(r'id="cand-([^"]+)"', page)
    assert sorted(listed) == ["2001.00006", "2001.00042", "2001.00078", "2001.00114"]
    featured = re.search(r'<details class="featured">(.*?)</details>', page, re.S).group(1)
    assert re.findall(r'id="cand-([^"]+)"', featured) == ["2001.00078"] and "featured 2016-08-01" in featured
    assert '<div class="cand picked" id="cand-2001.00006">' in page and 'id="unranked"' in page  # picks has no scores
    assert ed.get("/-/desk?" + urlencode({**window_of("2016-07-15"), "profile": "nope"}), status=400)


def test_the_default_window_is_the_fortnight_before_the_issue(site):
    page = client(site, "ed").get("/-/desk?issue=2016-07-29").text
    assert 'value="2016-07-15"' in page and 'value="2016-07-28"' in page
    assert len(re.findall(r'id="cand-([^"]+)"', page)) == 4


@pytest.mark.parametrize(
    "query, message",
    [
        ({"issue": "2020-13-01"}, "issue date &#39;2020-13-01&#39; is not a date"),
        ({"issue": "２０２０-01-01"}, "is not a date (YYYY-MM-DD)"),
        ({"issue": ISSUE, "from": "2030-01-10", "to": "2029-01-01"}, "ends (2029-01-01) before it starts"),
        ({"issue": ISSUE, "from": "2020-01-01"}, "the desk shows at most 92"),
        ({"issue": ISSUE, "lang": "fr"}, "lang &#39;fr&#39;: use zh or en"),
        ({"issue": ISSUE, "drafts": "yes"}, "drafts &#39;yes&#39;: use 1 or 0"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(site, query, message):
    page = client(site, "ed").get("/-/desk?" + urlencode(query), status=400).text
    assert message in page and "Traceback" not in page


def test_writes_wait_for_a_harvest_then_answer_503(site, monkeypatch):
    monkeypatch.setattr(desk, "LOCK_WAIT", 0.2)
    ed = client(site, "ed")
    ed.csrftoken()
    with database_lock(site[2] / "papers.db", owner="papertrack harvest"):
        response = ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00007"}, status=503)
    assert response.headers["retry-after"] == "30" and "papertrack harvest" in response.text
    assert rows(site, "select * from picks") == []
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00007"}, status=303)
    assert rows(site, "select papers_id, issue, position from picks") == [("2001.00007", ISSUE, 1)]


def test_draft_and_accept_on_the_desk(site, fake_model):  # noqa: F811
    ed = client(site, "ed")
    for pid in ("2001.00011", "2001.00012"):
        ed.post("/-/desk/pick", {"issue": ISSUE, "paper": pid}, status=303)
    answer = ed.post(
        "/-/desk/draft", {"issue": ISSUE, "model": MODEL_ID}, headers={"accept": "application/json"}, status=200
    )
    assert answer.json()["drafted"] == ["2001.00011", "2001.00012"] and len(fake_model.prompts) == 2
    page = ed.get(f"/-/desk?issue={ISSUE}").text
    assert page.count('<button class="small accept">Accept</button>') == 2 and f"Draft by {MODEL_ID}" in page
    draft_id = rows(site, "select id from drafts where papers_id = '2001.00012'")[0][0]
    ed.post("/-/desk/accept", {"paper": "2001.00012", "draft": str(draft_id)}, status=303)
    assert rows(site, "select papers_id from drafts where accepted is not null") == [("2001.00012",)]
    section = ed.get(f"/-/desk/digest.md?issue={ISSUE}").text
    eleven, twelve = section.split("\n- ")[1:]
    assert twelve.startswith("[Paper 12 on binary neural networks：一种更小更快的网络 | arXiv]")
    assert eleven.startswith("[Paper 11 on binary neural networks | arXiv]") and "本文提出" not in eleven
    again = ed.post("/-/desk/draft", {"issue": ISSUE, "paper": "2001.00011", "model": MODEL_ID}, status=303)
    assert again and len(fake_model.prompts) == 3
    assert ed.post("/-/desk/accept", {"paper": "2001.00011", "draft": "x1"}, status=400)
    assert ed.post("/-/desk/accept", {"paper": "2001.00011", "draft": str(draft_id)}, status=400)  # not its draft


def test_without_a_model_the_draft_button_says_how_to_set_one_up(site):
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00011"}, status=303)
    page = ed.get(f"/-/desk?issue={ISSUE}").text
    assert '<button id="draft-all" disabled>' in page and "llm keys set openai" in page
    response = ed.post("/-/desk/draft", {"issue": ISSUE}, status=503)
    assert "needs a key" in response.text and rows(site, "select * from drafts") == []


def test_the_desk_pages_never_call_the_model(site, fake_model):  # noqa: F811
    llm.set_default_model(MODEL_ID)
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00011"}, status=303)
    for path in (f"/-/desk?issue={ISSUE}", f"/-/desk?issue={ISSUE}&drafts=1", f"/-/desk/digest.md?issue={ISSUE}&drafts=1"):
        ed.get(path)
    assert 'id="draft-all">' in ed.get(f"/-/desk?issue={ISSUE}").text and fake_model.prompts == []


def test_a_copy_of_the_database_served_immutable_shows_no_drafts_table(site, tmp_path):
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00011"}, status=303)
    copy = tmp_path / "copy" / "papers.db"
    copy.parent.mkdir()
    conn = sqlite3.connect(site[2] / "papers.db")
    conn.execute("pragma wal_checkpoint(truncate)")
    conn.close()
    shutil.copy(site[2] / "papers.db", copy)
    c = CookieClient(datasette_for(copy, immutable=True))
    assert c.get("/papers/drafts", status=403) and c.get("/-/desk", status=404)
    c.close()


def test_the_picks_profile_is_for_editors_on_a_public_site(site, tmp_path):
    """Ranked by picks, an issue not yet out comes first: on a public site only editors may
    sort by it, read the scores or run the candidates query; other profiles stay open."""
    from papertrack.rank.profiles import rank
    from papertrack.store.schema import open_db

    ed = client(site, "ed")
    for pid in ("2001.00007", "2001.00011", "2001.00013", "2001.00017"):
        ed.post("/-/desk/pick", {"issue": ISSUE, "paper": pid}, status=303)
    db = open_db(site[2] / "papers.db")
    rank(db, ["picks", "pruning"], [], n_jobs=1)
    db.close()
    for who in (client(site), client(site, "rita")):
        assert "sort=like%3Apicks" not in who.get("/browse").text and "sort=like%3Apruning" in who.get("/browse").text
        for path in ("/browse?sort=like:picks", "/browse.bib?sort=like:picks"):
            assert "picks profile is for editors" in who.get(path, status=400).text
        who.get("/browse?sort=like:pruning")
        who.get("/papers/scores.json", status=403)
        who.get("/papers/candidates.json?profile=picks", status=403)
    assert "sort=like%3Apicks" in ed.get("/browse").text
    ed.get("/browse?sort=like:picks")
    assert ed.get("/papers/candidates.json?profile=picks&_shape=array").json()


def test_the_picks_profile_model_is_for_editors_on_a_public_site(site):
    """`rank_models` holds the picks profile's model (it scores future picks first) and the
    SHA-1 of its positives (with the past picks published, trying each candidate in turn
    finds the new pick): on a public site, for editors only."""
    from papertrack.rank.profiles import rank

    ed = client(site, "ed")
    for pid in ("2001.00007", "2001.00011", "2001.00013", "2001.00017"):
        ed.post("/-/desk/pick", {"issue": ISSUE, "paper": pid}, status=303)
    db = open_db(site[2] / "papers.db")
    rank(db, ["picks"], [], n_jobs=1)
    db.close()
    private = ["/papers/rank_models", "/papers/rank_models.json", "/papers/rank_models/picks.json",
               "/papers/rank_models/picks.blob?_blob_column=model"]  # fmt: skip
    for who in (client(site), client(site, "rita")):
        for path in private:
            who.get(path, status=403)
    assert ed.get("/papers/rank_models/picks.json?_shape=array").json()[0]["positives"] == 4


def test_notes_and_picks_are_for_editors_on_a_public_site(site):
    """The editor's headlines and the picks of issues not out yet: editors only, on the
    tables' pages and in a paper's links from other tables; the pages that show published
    data (the paper's summary, which the note's 摘要 becomes) keep working for everyone."""
    ed = client(site, "ed")
    ed.post("/-/desk/pick", {"issue": ISSUE, "paper": "2001.00007"}, status=303)
    ed.post(
        "/-/desk/note",
        {"paper": "2001.00007", "headline": "Unpublished headline 未发表的标题", "summary": "published 摘要"},
        status=303,
    )
    private = ["/papers/notes", "/papers/notes.json", "/papers/notes.csv", "/papers/notes/2001~2E00007",
               "/papers/picks", "/papers/picks.json", "/papers/picks.bib", f"/papers/picks/2001~2E00007,{ISSUE}.json"]  # fmt: skip
    paper = "/papers/papers/2001~2E00007"
    for who in (client(site), client(site, "rita")):
        for path in private:
            response = who.get(path, status=403)
            assert "Unpublished headline" not in response.text and ISSUE not in response.text, path
        page = who.get(paper).text
        assert "published 摘要" in page and " in picks" not in page and " in notes" not in page
        who.get(paper + ".json?_extras=foreign_key_tables", status=400)  # counts of the hidden tables' rows
        assert "published 摘要" in who.get("/browse?q=zebrafinch").text
        assert "published 摘要" in who.get("/browse.atom?q=zebrafinch").text
        window = who.get("/papers/window.json?from=2001-01-01&to=2031-01-01&_shape=array").json()
        assert [r["summary"] for r in window if r["id"] == "2001.00007"] == ["published 摘要"]
        assert "notes" not in [t["name"] for t in who.get("/papers.json").json()["tables"]]
    for path in private:
        ed.get(path)
    assert "Unpublished headline" in ed.get("/papers/notes.json").text and ISSUE in ed.get("/papers/picks.json").text
    page = ed.get(paper).text
    assert "from papers_id in picks" in page and "from papers_id in notes" in page
    own = CookieClient(datasette_for(site[2] / "papers.db", profile="private"))  # on one's own machine: all open
    assert "Unpublished headline" in own.get("/papers/notes.json").text and " in picks" in own.get(paper).text
    own.close()
