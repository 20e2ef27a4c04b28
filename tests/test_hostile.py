"""The site against a hostile visitor, in-process: generated parameters on every route
(never a 500, never a traceback, bounded time and memory), and the exact requests that
once took it down (a phrase whose plural forms multiply, 5,000-digit paging values, a
300 MB printf, paths in introspection pages)."""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import time
import urllib.parse

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrack.sources.arxiv_query import Record, evaluate, parse
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from papertrack.store.search import match_ids
from papertrack.web import browse, guard
from papertrack.web.serve import datasette_for
from tests import papers_db
from tests.helpers import DatasetteClient, make_paper, walk

PLURALS = ["networks", "models", "layers", "weights"]
WORDS = PLURALS + ["network", "model", "layer", "weight"]


def long_phrase(n: int) -> str:
    return " ".join((PLURALS * n)[:n])


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """The browse tests' papers, plus papers that index every singular and plural of WORDS
    (so that each word of a phrase has two forms to spell out)."""
    path = papers_db.build(tmp_path_factory.mktemp("hostile") / "papers.db")
    db = open_db(path)
    extra = [
        make_paper(500 + i, title=f"{' '.join(WORDS[i % 8 :] + WORDS[: i % 8])} study {i}", abstract=long_phrase(12 + i))
        for i in range(40)
    ]
    with transaction(db):
        save_papers(db, extra)
    db.close()
    return path


@pytest.fixture(scope="module")
def public(db_path):
    c = DatasetteClient(datasette_for(db_path, immutable=True))
    yield c
    c.close()


@pytest.fixture(scope="module")
def private(db_path):
    c = DatasetteClient(datasette_for(db_path))
    yield c
    c.close()


def fetch(client: DatasetteClient, path: str, headers: dict | None = None):
    started = time.perf_counter()
    response = client.loop.run_until_complete(client.ds.client.get(path, headers=headers or {}))
    return response, time.perf_counter() - started


# ------------------------------------------------------------------ generated input, every route

ROUTES = [
    "/",
    "/browse",
    "/browse.atom",
    "/browse.bib",
    "/papers/papers",
    "/papers/papers.json",
    "/papers/papers.bib",
    f"/papers/papers/{papers_db.HOSTILE_ID}",
    "/papers/papers/{}",
    "/-/paper/{}",
    "/papers/{}",
    "/papers/latest",
    "/papers/by_tag",
    "/papers/window",
    "/papers/window.bib",
    "/papers/candidates",
    "/papers/stale_queries",
    "/papers/authors",
    "/papers",
    "/-/desk",  # the editor's desk: none on a site without accounts (test_desk_fuzz.py throws input at it as an editor)
    "/-/desk/digest.md",
]
PARAMS = [
    "q", "tag", "category", "venue", "year", "sort", "after", "start",
    "days", "from", "to", "profile", "_search", "_sort", "_sort_desc", "_size", "_next", "_facet", "sql",
    "_through", "_where", "_col", "_nocol", "_facet_array", "_shape", "_searchmode", "_labels", "_json", "id__gt",
    "published__date", "_trace", "_timelimit", "_facet_size", "_nl", "issue", "lang", "drafts",
]  # fmt: skip
NASTY = [
    "²", "٣", "1e999", "-0", "nan", "inf", "9" * 40 + ",1", "9" * 5000 + ",1", "1," + "9" * 40, "0.5,-1",
    '"', "((((", "ti:", "AND", "ANDNOT", "cat:*", "%", "\x00", "\udcff", "<script>", "../../etc/passwd",
    "select printf('%.*c', 300000000, 'x')", "like:", "like:pruning", "relevance", "max", "2024-13-45",
    '{"table":"papers_tags","column":"tags_id","value":"1"}', '{"table":"nope"}', "{", "[]", "raw", "objects",
    "array", "arrays", "object", "published", "-1", "id", "tags",
]  # fmt: skip

values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(NASTY),
    st.from_regex(r"-?[0-9]{1,60}(\.[0-9]{1,30})?(e[-+]?[0-9]{1,4})?,[0-9]{1,30}", fullmatch=True),
    st.integers(min_value=1, max_value=40).map(lambda n: f'"{long_phrase(n)}"'),
    st.integers(min_value=1, max_value=40).map(lambda n: f'ti:"{long_phrase(n)}"'),
    st.integers(min_value=1, max_value=40).map(lambda n: f'all:"{long_phrase(n)}" OR abs:"{long_phrase(n)}"'),
)
queries = st.lists(st.tuples(st.sampled_from(PARAMS), values), max_size=5)


def _text(value: str) -> str:
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), part=values, params=queries, profile=st.sampled_from(["public", "private"]))
def test_no_request_gets_a_500(public, private, route, part, params, profile):
    client = public if profile == "public" else private
    route = route.format(urllib.parse.quote(_text(part), safe="") or "x")
    path = route + ("?" + urllib.parse.urlencode([(k, _text(v)) for k, v in params]) if params else "")
    response, seconds = fetch(client, path)
    assert response.status_code < 500 or response.status_code == 503 and "retry-after" in response.headers, (
        path,
        response.status_code,
        response.text[:300],
    )
    assert "Traceback" not in response.text, path
    assert seconds < 10, (path, seconds)


def test_generated_requests_keep_memory_bounded(public):
    """The worst of the generated shapes at once: peak memory grows by tens of MB, not GB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for n in (19, 21, 24, 30, 60):
        for q in (f'"{long_phrase(n)}"', f'ti:"{long_phrase(n)}"', f'all:"{long_phrase(n)}"'):
            for route in ("/browse", "/browse.atom", "/browse.bib"):
                response, seconds = fetch(public, f"{route}?{urllib.parse.urlencode({'q': q[:500]})}")
                assert response.status_code in (200, 400), (route, q, response.text[:300])
                assert seconds < 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


# ------------------------------------------------------------------ the exact cases of the report


def test_a_long_plural_phrase_is_searched_in_parts_and_the_page_says_so(public):
    response, _ = fetch(public, "/browse?" + urllib.parse.urlencode({"q": f'"{long_phrase(24)}"'}))
    assert response.status_code == 200
    assert 'id="simplified"' in response.text and "(24 words)" in response.text
    short, _ = fetch(public, "/browse?" + urllib.parse.urlencode({"q": f'"{long_phrase(3)}"'}))
    assert short.status_code == 200 and 'id="simplified"' not in short.text


def test_a_long_field_phrase_stays_exact(public, db_path):
    """`abs:"..."` beyond the spelled-out bound finds exactly what the reference evaluator
    finds, on the page and through `match`."""
    query = f'abs:"{long_phrase(14)}"'
    conn = sqlite3.connect(db_path)
    expected = {
        pid
        for pid, title, abstract, authors in conn.execute("select id, title, abstract, authors from papers")
        if evaluate(parse(query), Record(pid, title, abstract, json.loads(authors), [], None, None, "", ""))
    }
    assert len(expected) == 38
    assert set(walk(public, "/browse?" + urllib.parse.urlencode({"q": query}))) == expected
    assert set(match_ids(sqlite_utils.Database(conn), query)) == expected


@pytest.mark.parametrize("route", ["/browse", "/browse.atom", "/browse.bib"])
@pytest.mark.parametrize("after", ["9" * 40 + ",1", "9" * 5000 + ",1", "1e999,1", "1," + "9" * 30, "١٢,3"])
def test_paging_values_beyond_what_sqlite_holds_are_bad_requests(public, route, after):
    response, _ = fetch(public, f"{route}?after={after}")
    assert response.status_code == 400 and "page position" in response.text


@pytest.mark.parametrize("start", ["²", "٣", "-1", "9" * 30])
def test_start_is_ascii_digits_within_range(public, start):
    response, _ = fetch(public, f"/browse?after=5,1&start={urllib.parse.quote(start)}")
    assert response.status_code == 400 and "row number" in response.text


def test_a_database_error_is_reported_as_itself(public):
    """SQLite rolled back on its own (an interrupt, a full disk): the error the query
    raised reaches the caller, not "cannot commit - no transaction is active"."""

    def fails(conn):
        conn.execute("rollback")
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        public.loop.run_until_complete(browse.read_snapshot(public.ds, "papers", fails))


def test_a_search_cut_by_the_time_limit_leaves_its_connection_usable(db_path):
    """A search interrupted by the time limit is a 400, and the connection it ran on (the
    only one here) serves the next requests: the rollback runs after the limit is lifted,
    so it is not interrupted too and no transaction is left open."""
    ds = datasette_for(db_path, settings={"sql_time_limit_ms": 1, "num_sql_threads": 1})
    client = DatasetteClient(ds)
    try:
        heavy, _ = fetch(client, "/browse?" + urllib.parse.urlencode({"q": f'abs:"{long_phrase(14)}" OR network'}))
        assert heavy.status_code == 400 and "took too long" in heavy.text, heavy.text[:300]
        ds._settings["sql_time_limit_ms"] = 1000  # ordinary requests, on the same connection
        for path in ("/browse", "/browse?q=binary", "/browse.atom?q=network", "/browse.bib?tag=pruning"):
            response, _ = fetch(client, path)
            assert response.status_code == 200, (path, response.text[:300])
    finally:
        client.close()


# ------------------------------------------------------------------ POSTs, before Datasette's CSRF check

FORM = "application/x-www-form-urlencoded"
POST_ROUTES = [
    "/",
    "/browse",
    "/papers",
    "/papers/papers",
    "/papers/latest",
    "/-/login",
    "/-/library",
    "/-/desk/note",
    "/-/x",
]
token_text = st.one_of(
    st.sampled_from(["é", "", " ", "%C3%A9", "x" * 60]), st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40)
)


def post(client: DatasetteClient, path: str, body: bytes, headers: list[tuple[str, bytes]]):
    return client.loop.run_until_complete(client.ds.client.request("POST", path, content=body, headers=headers))


@pytest.mark.parametrize("cookie", [None, b"ds_csrftoken=abc; other=1"])
@pytest.mark.parametrize("path", ["/browse", "/papers/papers", "/-/nothing"])
def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_500(public, cookie, path):
    """asgi-csrf compares its tokens with `secrets.compare_digest`, which raises on text that
    is not ASCII: the header on any path (cookies or not), or the form field it reads (the
    last non-blank one of several)."""
    extra = [("cookie", cookie)] if cookie else []
    for headers in ([("x-csrftoken", "é".encode())], [("x-csrftoken", b"fine"), ("X-CSRFToken", "é".encode())]):
        response = post(public, path, b"", headers + extra)
        assert response.status_code == 403 and "X-CSRFToken" in response.text
    for body in (b"csrftoken=%C3%A9&csrftoken=", b"csrftoken=&csrftoken=%C3%A9", b"csrftoken=ok&csrftoken=%C3%A9"):
        response = post(public, path, body, [("content-type", FORM.encode()), *extra])
        assert response.status_code == 403 and "CSRF token" in response.text


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    route=st.sampled_from(POST_ROUTES),
    fields=st.lists(st.tuples(st.sampled_from(["csrftoken", "q", "paper"]), token_text), max_size=5),
    header_tokens=st.lists(token_text, max_size=3),
    cookie=st.sampled_from([None, "ds_csrftoken=abc", "ds_csrftoken=é", "a=b"]),
    kind=st.sampled_from([FORM, f"{FORM}; charset=utf-8", "text/plain", None]),
    profile=st.sampled_from(["public", "private"]),
)
def test_no_anonymous_post_gets_a_500(public, private, route, fields, header_tokens, cookie, kind, profile):
    """Repeated fields and repeated headers, on every route, with and without cookies."""
    headers = [("x-csrftoken", t.encode("utf-8")) for t in header_tokens]
    headers += [("cookie", cookie.encode("utf-8"))] if cookie else []
    headers += [("content-type", kind.encode())] if kind else []
    body = urllib.parse.urlencode(fields).encode("utf-8")
    response = post(public if profile == "public" else private, route, body, headers)
    assert response.status_code < 500, (route, fields, headers, response.status_code, response.text[:300])
    assert "Traceback" not in response.text


# ------------------------------------------------------------------ the public profile


def test_public_profile_closes_arbitrary_sql_but_keeps_canned_queries(public, private):
    assert fetch(public, "/papers.json?sql=select+1")[0].status_code == 403
    assert fetch(public, "/_memory.json?sql=select+1")[0].status_code in (403, 404)  # no _memory with files
    assert fetch(public, "/papers/latest.json?days=100000")[0].status_code == 200
    assert fetch(private, "/papers.json?sql=select+1")[0].status_code == 200


def test_public_profile_shows_no_local_paths(public, db_path):
    for page in (
        "/-/databases.json",
        "/-/databases",
        "/-/plugins.json",
        "/-/threads.json",
        "/-/metadata",
        "/-/metadata.json",
    ):
        assert fetch(public, page)[0].status_code == 404, page
    assert fetch(public, "/papers/imports")[0].status_code == 403
    for page in ("/", "/papers", "/papers.json", "/-/versions.json", "/-/settings.json"):
        assert str(db_path.parent) not in fetch(public, page)[0].text, page


def test_plugin_settings_that_name_local_files_stay_private(db_path):
    """The desk's `draft_prompt` is a local path: /-/metadata shows the plugin settings, so
    the public profile hides it (a private site shows it)."""
    prompt = str(db_path.parent / "my-prompt.txt")
    metadata = {"plugins": {"papertrack": {"draft_prompt": prompt, "draft_model": "m"}}}
    for profile, status in (("public", 404), ("private", 200)):
        client = DatasetteClient(datasette_for(db_path, metadata=metadata, profile=profile))
        try:
            for page in ("/-/metadata", "/-/metadata.json"):
                response, _ = fetch(client, page)
                assert response.status_code == status, (profile, page)
                assert (prompt in response.text) == (profile == "private"), (profile, page)
            assert prompt not in fetch(client, "/papers")[0].text
        finally:
            client.close()


def test_for_you_on_a_site_without_accounts_does_not_ask_to_sign_in(public):
    response, _ = fetch(public, "/browse?sort=for-you")
    assert response.status_code == 200
    assert "has no accounts" in response.text and "Sign in" not in response.text
    response, _ = fetch(public, "/-/logout")
    assert (response.status_code, response.headers["location"]) == (302, "/")  # not to a sign-in page that is not there
    assert fetch(public, "/-/login")[0].status_code == 404


def test_public_profile_bounds_responses(public):
    settings = fetch(public, "/-/settings.json")[0].json()
    assert settings["allow_download"] is False and settings["allow_csv_stream"] is False
    assert settings["max_returned_rows"] <= 1000 and settings["sql_time_limit_ms"] <= 1000
    assert fetch(public, "/papers.db")[0].status_code == 403
    assert fetch(public, "/papers/papers.csv?_stream=1")[0].status_code == 400


def test_public_profile_bounds_the_facets_a_page_asks_for(public, private):
    """Datasette runs one query (of up to 1 s) per facet asked for, repeated ones too: on
    100,000 papers 60 `_facet=abstract` took one request 38 s."""
    many = "&".join(["_facet=abstract"] * (guard.MAX_FACETS + 1))
    for path in (f"/papers/papers.json?{many}", f"/papers/papers?_facet_m2m=tags&{many}", f"/papers/tags.json?{many}"):
        response, _ = fetch(public, path)
        assert response.status_code == 400 and f"at most {guard.MAX_FACETS} facets" in response.text, path
    allowed = "&".join(["_facet=venue"] * guard.MAX_FACETS)
    assert fetch(public, f"/papers/papers.json?_facet_size=3&{allowed}")[0].status_code == 200
    assert fetch(private, f"/papers/papers.json?{many}")[0].status_code == 200


def test_no_value_sqlite_builds_may_exceed_the_bound(private):
    """Signed-in editors (or anyone on a private machine) may run SQL: printf and
    randomblob still cannot build hundreds of MB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for sql in ("select printf('%.*c', 300000000, 'x')", "select randomblob(300000000)", "select zeroblob(300000000)"):
        response, seconds = fetch(private, "/papers.json?" + urllib.parse.urlencode({"sql": sql}))
        # SQLite's printf gives NULL beyond the bound; the blobs are an error
        assert response.status_code == 400 and "too big" in response.text or '"rows": [[null]]' in response.text, sql
        assert len(response.content) < 10_000 and seconds < 10  # a generous bound: the machine is shared
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_exports_wait_for_one_slot_and_too_many_are_told_to_retry():
    ds = object.__new__(type("FakeDatasette", (), {}))
    order: list[str] = []

    async def export(name: str, hold: float):
        try:
            async with guard.export_slot(ds):
                order.append(f"start {name}")
                await asyncio.sleep(hold)
                order.append(f"end {name}")
        except guard.Busy:
            order.append(f"busy {name}")

    async def main():
        await asyncio.gather(*(export(str(i), 0.01) for i in range(2 + guard.EXPORTS_WAITING)))

    asyncio.run(main())
    starts = [e for e in order if e.startswith("start")]
    assert len(starts) == 1 + guard.EXPORTS_WAITING and order.count("busy 5") == 1
    for i in range(len(order) - 1):  # never two exports at once
        if order[i].startswith("start"):
            assert order[i + 1].startswith(("end", "busy"))
