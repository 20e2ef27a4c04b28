"""The browse page in-process (datasette.client): every parameter, bad parameters, paging
to the end, counts against plain SQL, highlighting and escaping, the Atom feed (parsed by
feedparser), BibTeX of the results, cache headers, replicas' checks."""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from html import unescape

import bibtexparser
import feedparser
import pytest
import sqlite_utils
from datasette.app import Datasette

from papertrack.errors import UsageError
from papertrack.store import derived
from papertrack.store.browse import SORTS, Sort, register_sort
from papertrack.store.search import match_ids
from papertrack.web.serve import check_finished, datasette_for, load_metadata
from tests import papers_db
from tests.helpers import CARD, DatasetteClient, walk
from tests.papers_db import ABSTRACT_WORD, HOSTILE_ID, HOSTILE_TITLE, TITLE_WORD, N

PRUNING = "id in (select papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = 'pruning')"


class Client(DatasetteClient):
    def ids(self, path: str) -> list[str]:
        """The ids of the cards a browse page shows, in order."""
        return CARD.findall(self.get(path).text)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return papers_db.build(tmp_path_factory.mktemp("browse") / "papers.db")


@pytest.fixture(scope="module")
def client(db_path):
    c = Client(datasette_for(db_path))
    yield c
    c.close()


@pytest.fixture(scope="module")
def conn(db_path):
    c = sqlite3.connect(db_path)
    yield c
    c.close()


def total(html: str) -> int:
    return int(re.search(r'<strong id="total">(?:about )?([\d,]+) papers?', html).group(1).replace(",", ""))


def facet(html: str, name: str) -> dict[str, int]:
    section = re.search(rf'<section id="facet-{name}">(.*?)</section>', html, re.S)
    if not section:
        return {}
    return {
        unescape(label): int(n.replace(",", ""))
        for label, n in re.findall(r'<a href="[^"]*">([^<]+)</a> <span class="n">~?([\d,]+)</span>', section.group(1))
    }


def newest(conn, where: str = "1", params=()) -> list[str]:
    return [r[0] for r in conn.execute(f"select id from papers p where {where} order by published desc, rowid desc", params)]


# ---------------------------------------------------------------- the page, every parameter


def test_front_page_is_the_browse_page_with_chart_counts_and_newest_cards(client, conn):
    home, browse = client.get("/").text, client.get("/browse").text
    took = re.compile(r"Queries took [\d.]+ms")
    assert took.sub("", home) == took.sub("", browse) and took.search(home)
    assert total(home) == N + 1
    assert '<svg class="tag-chart"' in home and "binarization (" in home  # the last 24 months: the recent papers
    assert client.ids("/") == newest(conn)[:20]
    assert facet(home, "tag") == {"binarization": N + 1, "pruning": papers_db.pruning_count()}
    assert facet(home, "cat") == {"cs.CV": N // 2, "cs.LG": N - N // 2 + 1}
    # Datasette's own pages are where they were; its list of databases moved to /-/index
    assert "papers" in client.get("/-/index").text and client.get("/papers/papers.json").json()["rows"]


@pytest.mark.parametrize(
    "params, where, sql_params",
    [
        ("tag=pruning", PRUNING, ()),
        ("tag=pruning&tag=binarization", PRUNING, ()),
        ("category=cs.CV", "primary_category = ?", ("cs.CV",)),
        ("venue=CVPR+2010", "venue = ?", ("CVPR 2010",)),
        ("year=2012", "year = ?", (2012,)),
        ("tag=pruning&category=cs.LG&year=2016", f"primary_category = 'cs.LG' and year = 2016 and {PRUNING}", ()),
    ],
)  # fmt: skip
def test_filters_select_and_count_what_plain_sql_does(client, conn, params, where, sql_params):
    expected = newest(conn, where, sql_params)
    assert expected, "the case selects nothing"
    html = client.get(f"/browse?{params}").text
    assert total(html) == len(expected)
    assert walk(client, f"/browse?{params}") == expected
    for name, column in (("cat", "primary_category"), ("year", "year"), ("venue", "venue")):
        sql = f"select {column}, count(*) from papers p where {where} and {column} is not null group by 1"
        counted = {str(k): v for k, v in conn.execute(sql, sql_params)}
        shown = facet(html, name)
        assert len(shown) == min(12, len(counted)) and all(counted[k] == v for k, v in shown.items()), name


def test_sorts_and_paging_to_the_end(client, conn):
    every = newest(conn)
    assert walk(client, "/browse") == every
    assert walk(client, "/browse?sort=oldest") == [
        r[0] for r in conn.execute("select id from papers order by published, rowid")
    ]
    html = client.get("/browse?sort=oldest").text
    assert "showing 1&ndash;20" in html and 'rel="next"' in html
    last_page = client.get(unescape(re.findall(r'<a href="([^"]+)" rel="next"', html)[0])).text
    assert "showing 21&ndash;40" in last_page and "First page" in last_page
    # a search: relevance by default, every match exactly once across the pages
    ranked = walk(client, "/browse?q=binary")
    assert len(ranked) == len(set(ranked)) == N + 1
    assert "<strong>relevance</strong>" in client.get("/browse?q=binary").text
    assert walk(client, "/browse?q=binary&sort=newest") == every


def test_search_words_phrases_and_arxiv_syntax(client, conn):
    assert client.ids(f"/browse?q={TITLE_WORD}") == ["2001.00007"]
    assert client.ids(f"/browse?q={ABSTRACT_WORD}") == ["2001.00011"]
    assert client.ids(f"/browse?q=ti:{TITLE_WORD}") == ["2001.00007"]
    assert client.ids(f"/browse?q=abs:{TITLE_WORD}") == []
    assert client.ids(f"/browse?q={TITLE_WORD}+binary+networks") == ["2001.00007"]  # plural-insensitive, all words
    assert client.ids('/browse?q="binary+network"+' + TITLE_WORD) == ["2001.00007"]
    assert client.ids('/browse?q="network+binary"+' + TITLE_WORD) == []
    reference = sqlite_utils.Database(conn)
    for query in ("ti:binary AND cat:cs.CV", "abs:binary ANDNOT ti:zebrafinch", "au:lovelace AND ti:binarization"):
        found = walk(client, "/browse?q=" + urllib.parse.quote(query))
        assert sorted(found) == sorted(match_ids(reference, query)) and found, query
    html = client.get("/browse?q=nosuchwordanywhere").text
    assert total(html) == 0 and 'id="empty"' in html


def test_matches_are_marked_and_markup_stays_text(client):
    html = client.get(f"/browse?q={TITLE_WORD}").text
    assert f"The <mark>{TITLE_WORD}</mark> binary network" in html
    html = client.get(f"/browse?q={ABSTRACT_WORD}").text
    assert f"<mark>{ABSTRACT_WORD}</mark>" in html  # in the summary
    html = client.get("/browse?q=script+alert").text
    assert CARD.findall(html) == [HOSTILE_ID]
    assert "<script>alert" not in html and "<b>Bold</b>" not in html and "<img" not in html
    assert '&lt;<mark>script</mark>&gt;<mark>alert</mark>("pwned")&lt;/<mark>script</mark>&gt;' in html
    assert "<mark>" not in client.get("/browse?tag=binarization").text  # no search, nothing marked


def test_cards_link_tags_venue_paper_page_and_bibtex(client):
    html = client.get("/browse?category=cs.LG&venue=CVPR+2010").text
    assert CARD.findall(html) == ["2001.00000", "2001.00060", "2001.00120"]  # newest first
    card = re.search(r'<article class="card" id="paper-2001.00000">.*?</article>', html, re.S).group(0)
    assert 'href="/papers/papers/2001~2E00000"' in card
    assert 'href="/papers/papers/2001~2E00000.bib"' in card
    assert 'href="https://arxiv.org/abs/2001.00000"' in card and ">PDF</a>" in card
    assert 'href="/browse?tag=pruning&amp;category=cs.LG&amp;venue=CVPR+2010"' in card  # a tag chip adds the tag
    assert '<span class="venue">CVPR 2010</span>' in card  # the selected venue is no link
    assert "Ada Lovelace, Author 0" in card


def test_filter_links_add_and_remove(client):
    html = client.get("/browse?tag=pruning").text
    assert '<a href="/browse" title="remove this filter">tag: pruning' in html
    assert '<li class="on"><a href="/browse">pruning</a>' in html
    assert 'href="/browse?tag=pruning&amp;category=cs.CV"' in html
    empty = client.get("/browse?tag=pruning&year=2001&category=cs.CV").text  # no paper from 2001
    assert 'id="empty"' in empty and "without year 2001" in empty


def test_long_author_lists_are_shortened():
    from papertrack.web.browse_view import authors_line

    assert authors_line([f"A{i}" for i in range(3)]) == "A0, A1, A2"
    assert authors_line([f"A{i}" for i in range(12)]) == "A0, A1, A2, A3, A4, A5, A6, A7 and 4 more (12 authors)"


@pytest.mark.parametrize(
    "query, message",
    [
        ("year=abc", "year &#39;abc&#39; is not a year"),
        ("tag=nope", "no paper has the tag &#39;nope&#39;"),
        ("tag=pruning&tag=nope", "no paper has the tag &#39;nope&#39;"),
        ("category=xx.YY", "no paper has the category &#39;xx.YY&#39;"),
        ("q=%22binary+network", "unbalanced quotes"),
        ("q=(ti:binary", "unbalanced parentheses"),
        ("q=ti:binary+AND", "dangling operator"),
        ("sort=best", "unknown sort &#39;best&#39;"),
        ("after=yesterday", "is not a page position"),
        ("q=" + "a" * 501, "at most 500 are read"),
        ("q=%3F%3F%3F", "nothing to search for"),
    ],
)
def test_bad_parameters_are_a_page_with_the_reason_and_400(client, query, message):
    html = client.get(f"/browse?{query}", status=400).text
    assert message in html and 'id="error"' in html and "Traceback" not in html
    assert client.get(f"/browse.atom?{query}", status=400).text.startswith("Error: ")
    assert client.get(f"/browse.bib?{query}", status=400).text.startswith("Error: ")


# ---------------------------------------------------------------- feed and BibTeX


def test_feed_parses_and_has_the_newest_matching_papers(client, conn):
    body = client.get("/browse.atom?tag=pruning").text
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    expected = newest(conn, PRUNING)
    assert [e.link for e in feed.entries] == [f"https://arxiv.org/abs/{i}" for i in expected]
    first = feed.entries[0]
    assert first.id == f"https://arxiv.org/abs/{expected[0]}"
    assert [a.name for a in first.authors] == ["Ada Lovelace", f"Author {int(expected[0][-5:])}"]
    assert {t.term for t in first.tags} == {"binarization", "pruning"}
    assert any(link.href.endswith(f"/papers/papers/{expected[0].replace('.', '~2E')}") for link in first.links)
    assert first.content[0].value and first.updated and feed.feed.title.endswith("tag pruning")
    everything = feedparser.parse(client.get("/browse.atom").text)
    assert len(everything.entries) == 50 and not everything.bozo
    hostile = feedparser.parse(client.get("/browse.atom?q=alert").text)
    assert [e.title for e in hostile.entries] == [HOSTILE_TITLE]


def test_bibtex_for_these_results(client, conn):
    html = client.get("/browse?tag=pruning").text
    url = unescape(re.search(r'<a href="([^"]+)" id="bib-link">BibTeX for these results</a>', html).group(1))
    assert url == "/browse.bib?tag=pruning"
    library = bibtexparser.parse_string(client.get(url).text)
    assert not library.failed_blocks
    assert [e["eprint"] for e in library.entries] == newest(conn, PRUNING)
    assert [e["eprint"] for e in bibtexparser.parse_string(client.get(f"/browse.bib?q={TITLE_WORD}").text).entries] == [
        "2001.00007"
    ]


# ---------------------------------------------------------------- headers, replicas, sorts


def test_headers_say_how_long_and_how_cacheable(client, db_path, conn):
    response = client.get("/browse?q=binary")
    assert response.headers["cache-control"] == "max-age=5"  # live database: Datasette's default
    assert re.fullmatch(r"sql;dur=[\d.]+, render;dur=[\d.]+, total;dur=[\d.]+", response.headers["server-timing"])
    replica = Client(datasette_for(db_path, immutable=True))
    try:
        for path in ("/", "/browse?tag=pruning", "/browse.atom", "/papers/papers"):
            assert replica.get(path).headers["cache-control"] in ("public, max-age=3600", "max-age=3600"), path
        assert replica.get("/browse?tag=pruning").headers["cache-control"] == "public, max-age=3600"
        assert total(replica.get("/").text) == N + 1
    finally:
        replica.close()


def test_immutable_serving_wants_a_finished_current_file(tmp_path, db_path):
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copy(db_path, copy)
    check_finished(copy)
    wal = tmp_path / "copy.db-wal"
    wal.write_bytes(b"x" * 100)
    with pytest.raises(UsageError, match="holds changes not yet in"):
        check_finished(copy)
    wal.unlink()
    c = sqlite3.connect(copy)
    c.execute("drop trigger browse_ad")
    c.commit()
    c.close()
    with pytest.raises(UsageError, match="older papertrack"):
        check_finished(copy)
    with pytest.raises(UsageError, match="no database"):
        check_finished(tmp_path / "missing.db")


def test_a_database_without_browse_tables_says_how_to_add_them(tmp_path, db_path):
    import shutil

    copy = tmp_path / "old.db"
    shutil.copy(db_path, copy)
    c = sqlite3.connect(copy)
    for name in derived.TRIGGERS:
        c.execute(f"drop trigger {name}")
    c.commit()
    c.close()
    plain = Client(Datasette([str(copy)], metadata=load_metadata()))  # plain Datasette: no migration
    try:
        html = plain.get("/browse", status=503).text
        assert "no browse tables yet" in html and "papertrack status --db" in html
        assert plain.get("/old/papers.json").json()["rows"]  # the rest of the site still works
    finally:
        plain.close()


def test_another_sort_plugs_in(client, conn):
    """A sort registered by another module (issue 12's like:TAG will be one) is offered and pages."""

    def by_title_length(conn, sel, arg, after, limit):
        frm, params, _, _ = sel.source()
        sql = f"select k, v from (select b.k, length(p.title) * ? as v from papers p join (select b.k {frm}) b on b.k = p.rowid)"
        params = [-1 if arg == "desc" else 1, *params]
        if after is not None:
            sql += " where (v, k) > (?, ?)"
            params += [after[0], after[1]]
        return conn.execute(sql + " order by v, k limit ?", [*params, limit]).fetchall()

    register_sort(Sort("length", "by title length", by_title_length))
    try:
        html = client.get("/browse?tag=pruning&sort=length:desc").text
        titles = dict(conn.execute("select id, title from papers"))
        shown = walk(client, "/browse?tag=pruning&sort=length:desc")
        assert len(shown) == papers_db.pruning_count() == len(set(shown))
        assert [len(titles[i]) for i in shown] == sorted((len(titles[i]) for i in shown), reverse=True)
        assert "by title length" in client.get("/browse").text
        assert CARD.findall(html) == shown[:20]
    finally:
        SORTS.pop("length")


def test_counts_over_the_cap_are_estimates_and_say_so(client, monkeypatch):
    from papertrack.store import browse_counts

    monkeypatch.setattr(browse_counts, "FACET_CAP", 10)
    html = client.get("/browse?q=binary&tag=pruning").text
    assert re.search(r'<strong id="total">about [\d,]+ papers', html)
    assert 'Tags <span class="approx">(about)</span>' in html and '<span class="n">~' in html
    plain = client.get("/browse?q=binary").text  # a search alone: its total is the index's exact count
    assert total(plain) == N + 1 and '<strong id="total">about' not in plain and "(about)" in plain
