"""Accounts on the site, in-process (datasette.client): sign-in, sessions, CSRF, the
throttle, the reader's library and its exports, muted words, saved searches and their
feeds, and that the library database is out of reach of every generic view."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading

import bibtexparser
import feedparser
import pytest
from argon2 import PasswordHasher

from papertrack.accounts import entries, users
from papertrack.web import accounts as accounts_web
from papertrack.web import bib, browse, guard
from papertrack.web.accounts import COOKIE, accounts_of
from papertrack.web.serve import datasette_for
from tests import papers_db
from tests.helpers import CARD, CookieClient, site_with_accounts
from tests.papers_db import HOSTILE_ID, TITLE_WORD

PASSWORD = "correct horse battery"
SEVEN = "2001.00007"  # the only paper with TITLE_WORD in its title


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("accounts-web")
    names = ("alice", "bob", "ed", "carol", "dan", "frank", "gina")
    ds = site_with_accounts(tmp, {n: "editor" if n == "ed" else "reader" for n in names}, PASSWORD)
    loop = asyncio.new_event_loop()
    yield ds, loop, tmp
    accounts_of(ds).close()
    loop.close()


def browser(site) -> CookieClient:
    ds, loop, _ = site
    return CookieClient(ds, loop)


def signed_in(site, name: str) -> CookieClient:
    client = browser(site)
    client.login(name, PASSWORD)
    return client


def library_rows(site, user: str) -> list[tuple]:
    conn = sqlite3.connect(site[2] / "library.db")
    try:
        return conn.execute(
            "select paper, action from library l join users u on u.id = l.user_id where u.name = ? order by paper, action",
            [user],
        ).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- signing in and out


def test_anonymous_visitors_keep_todays_site_with_a_sign_in_link(site):
    client = browser(site)
    html = client.get("/browse").text
    assert 'id="sign-in"' in html and '<form class="lib"' not in html and ">for you<" not in html
    notice = client.get("/browse?sort=for-you").text
    assert "Sign in to see papers ranked for you" in notice and len(CARD.findall(notice)) == 20
    assert client.json("/-/actor.json") == {"actor": None}


def test_sign_in_sets_a_safe_cookie_and_the_actor(site):
    client = browser(site)
    page = client.get("/-/login").text
    assert 'name="username"' in page and 'name="password"' in page and 'name="csrftoken"' in page
    response = client.post("/-/login", {"username": "Alice", "password": PASSWORD, "next": "/browse?q=binary"}, status=303)
    assert response.headers["location"] == "/browse?q=binary"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=2592000" in cookie
    assert client.json("/-/actor.json") == {"actor": {"id": "alice", "role": "reader"}}
    html = client.get("/browse").text
    assert "Signed in as <strong>alice</strong>" in html and html.count('<form class="lib"') == 20
    assert "private" in client.get("/browse").headers["cache-control"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example"])
def test_sign_in_never_sends_you_to_another_site(site, target):
    client = browser(site)
    response = client.post("/-/login", {"username": "bob", "password": PASSWORD, "next": target}, status=303)
    assert response.headers["location"] == "/browse"


def test_wrong_passwords_are_refused_then_throttled(site):
    client = browser(site)
    for _ in range(users.MAX_FAILURES):
        page = client.post("/-/login", {"username": "carol", "password": "wrong password"}, status=401)
        assert "Wrong name or password" in page.text
    throttled = client.post("/-/login", {"username": "carol", "password": PASSWORD}, status=429)
    assert int(throttled.headers["retry-after"]) > 800 and "Too many wrong passwords" in throttled.text
    assert client.json("/-/actor.json") == {"actor": None} and COOKIE not in client.cookies
    signed_in(site, "dan")  # another name is not affected


async def _post(client: CookieClient, path: str, data: dict):
    """A form POST that can run alongside others on the client's loop."""
    data = {"csrftoken": client.cookies["ds_csrftoken"], **data}
    return await client.ds.client.post(path, data=data, cookies=dict(client.cookies))


def test_concurrent_wrong_passwords_are_throttled_too(site):
    """Forty wrong passwords at once: the lock-out is checked and the attempt counted in one
    step, so no more than MAX_FAILURES are ever checked, the rest are 429 (or 503: too
    many sign-ins at once), and afterwards even the right password is 429."""
    client = browser(site)
    client.csrftoken()

    async def burst():
        return await asyncio.gather(
            *(_post(client, "/-/login", {"username": "gina", "password": f"wrong {i}"}) for i in range(40))
        )

    answers = site[1].run_until_complete(burst())
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) == users.MAX_FAILURES and statuses.count(429) >= 1, statuses
    assert set(statuses) <= {401, 429, 503} and all("retry-after" in a.headers for a in answers if a.status_code != 401)
    client.post("/-/login", {"username": "gina", "password": PASSWORD}, status=429)


def test_sign_ins_do_not_hold_the_librarys_write_thread(site, monkeypatch):
    """argon2 runs on threads of its own: with every sign-in of a burst stuck in its hash, a
    reader's save still goes through; sign-ins beyond what the hashing threads take are 503."""
    alice = signed_in(site, "alice")
    hashing, release = threading.Semaphore(0), threading.Event()
    verify = PasswordHasher.verify

    def stuck(self, stored, password):
        hashing.release()
        release.wait(30)
        return verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", stuck)
    anonymous = browser(site)
    anonymous.csrftoken()

    async def scenario():
        logins = [
            asyncio.ensure_future(_post(anonymous, "/-/login", {"username": f"stranger{i}", "password": "guess"}))
            for i in range(30)
        ]
        try:
            turned_away = len(logins) - accounts_web.HASHERS - accounts_web.HASHES_WAITING
            for _ in range(500):  # every sign-in has been let in or turned away
                if sum(t.done() for t in logins) >= turned_away:
                    break
                await asyncio.sleep(0.02)
            assert await asyncio.to_thread(hashing.acquire, timeout=10), "no sign-in reached its hash"
            save = await asyncio.wait_for(_post(alice, "/-/library", {"paper": "2001.00050", "action": "save"}), 10)
            finished = [t.result().status_code for t in logins if t.done()]
        finally:
            release.set()
        return save, finished, [a.status_code for a in await asyncio.gather(*logins)]

    save, finished, statuses = site[1].run_until_complete(scenario())
    assert save.status_code == 303 and ("2001.00050", "save") in library_rows(site, "alice")
    assert set(finished) <= {503}, finished  # only those turned away had an answer before the save
    assert statuses.count(401) == accounts_web.HASHERS + accounts_web.HASHES_WAITING
    assert statuses.count(503) == 30 - statuses.count(401)


def test_an_unknown_name_is_refused_like_a_wrong_password(site):
    page = browser(site).post("/-/login", {"username": "nobody", "password": PASSWORD}, status=401)
    assert "Wrong name or password" in page.text


def test_sign_in_needs_the_csrf_token(site):
    client = browser(site)
    client.csrftoken()
    client.post("/-/login", {"username": "alice", "password": PASSWORD}, csrf=False, status=403)
    client.post("/-/login", {"username": "alice", "password": PASSWORD, "csrftoken": "forged"}, csrf=False, status=403)
    bare = browser(site)  # no cookies at all: asgi-csrf lets it through, the page does not
    bare.post("/-/login", {"username": "alice", "password": PASSWORD, "csrftoken": "x"}, csrf=False, status=403)
    assert client.json("/-/actor.json") == {"actor": None}


def test_a_tampered_cookie_signs_nobody_in(site):
    client = signed_in(site, "alice")
    value = client.cookies[COOKIE]
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "x", value.split(".")[0]):
        client.cookies[COOKIE] = forged
        assert client.json("/-/actor.json") == {"actor": None}
        client.post("/-/library", {"paper": "2001.00001", "action": "save"}, status=403)


def test_sign_out_ends_the_session_everywhere(site):
    client = signed_in(site, "bob")
    stolen = client.cookies[COOKIE]
    response = client.post("/-/logout", {}, status=303)
    assert COOKIE not in client.cookies and response.headers["location"] == "/"
    thief = browser(site)
    thief.cookies[COOKIE] = stolen
    assert thief.json("/-/actor.json") == {"actor": None}
    assert "Sign out" in signed_in(site, "bob").get("/-/logout").text  # the confirmation page


def test_permissions_are_decided_only_for_papertracks_actions(site):
    ds = site[0]
    loop = site[1]

    def allowed(actor, action, default=False):
        return loop.run_until_complete(ds.permission_allowed(actor, action, default=default))

    reader, editor = {"id": "alice", "role": "reader"}, {"id": "ed", "role": "editor"}
    assert allowed(reader, "papertrack-library") and allowed(editor, "papertrack-library")
    assert not allowed(reader, "papertrack-edit") and allowed(editor, "papertrack-edit")
    assert not allowed(None, "papertrack-library") and not allowed({"id": "root"}, "papertrack-edit")
    # Datasette's own actions keep their defaults (the hook has no opinion on them); a site with
    # accounts is served public, whose metadata lets only editors run SQL (web.guard)
    assert allowed(None, "view-instance", True) and allowed(editor, "execute-sql", True)
    assert not allowed(reader, "execute-sql", True) and not allowed(None, "execute-sql", True)
    assert not allowed(editor, "insert-row", False)


# ---------------------------------------------------------------- the library


def test_every_post_needs_a_session_and_the_csrf_token(site):
    anonymous = browser(site)
    anonymous.post("/-/library", {"paper": "2001.00001", "action": "save"}, status=403)
    bare = browser(site)
    bare.post("/-/library", {"paper": "2001.00001", "action": "save"}, csrf=False, status=403)
    alice = signed_in(site, "alice")
    for path, form in (
        ("/-/library", {"paper": "2001.00001", "action": "save"}),
        ("/-/library/muted", {"phrase": "survey", "action": "mute"}),
        ("/-/library/searches", {"name": "x", "query": "q=binary", "action": "save"}),
    ):
        alice.post(path, form, csrf=False, status=403)
        alice.post(path, {**form, "csrftoken": alice.csrftoken()[:-1]}, csrf=False, status=403)
        anonymous.post(path, form, status=403)
    assert all(p != "2001.00001" for p, _ in library_rows(site, "alice"))
    assert alice.json("/-/library.json")["muted"] == [] and alice.json("/-/library.json")["searches"] == []


def test_library_actions_take_any_id_form_and_go_back(site):
    alice = signed_in(site, "alice")
    back = alice.post(
        "/-/library",
        {"paper": "https://arxiv.org/abs/2001.00003v2", "action": "save", "next": "/browse?q=x#paper-2001.00003"},
        status=303,
    )
    assert back.headers["location"] == "/browse?q=x#paper-2001.00003"
    answer = alice.post(
        "/-/library", {"paper": "arXiv:2001.00006", "action": "like"}, headers={"accept": "application/json"}, status=200
    )
    assert answer.json() == {"ok": True, "paper": "2001.00006", "state": ["like"]}
    alice.post("/-/library", {"paper": "2001.00012", "action": "dislike"}, status=303)
    alice.post("/-/library", {"paper": "2001.99999", "action": "save"}, status=404)
    alice.post("/-/library", {"paper": "2001.00003", "action": "delete"}, status=400)
    assert {("2001.00003", "save"), ("2001.00006", "like"), ("2001.00012", "dislike")} <= set(library_rows(site, "alice"))
    data = alice.json("/-/library.json")
    assert {(e["paper"], e["action"]) for e in data["entries"]} >= {("2001.00003", "save"), ("2001.00006", "like")}
    assert all(set(e) == {"paper", "action", "when"} for e in data["entries"])
    page = alice.get("/-/library").text
    assert "Paper 3 on binary neural networks" in page and 'value="unsave"' in page
    row = alice.get("/papers/papers/2001~2E00003").text
    assert '<form class="lib"' in row and "&#9733; Saved" in row


def test_nobody_reads_or_changes_anothers_library(site):
    alice, bob = signed_in(site, "alice"), signed_in(site, "bob")
    alice.post("/-/library", {"paper": "2001.00021", "action": "save"}, status=303)
    before = library_rows(site, "alice")
    for path in ("/-/library.json", "/-/library.json?user=alice", "/-/library.json?_user=1", "/-/library.bib?user=alice"):
        assert "2001.00021" not in bob.get(path).text
    bob.post("/-/library", {"paper": "2001.00021", "action": "clear", "user": "alice", "user_id": "1"}, status=303)
    assert library_rows(site, "alice") == before
    browser(site).get("/-/library.json", status=403)
    browser(site).get("/-/library", status=403)
    browser(site).get("/-/library.bib", status=403)


def test_library_bib_exports_the_saved_papers(site):
    client = signed_in(site, "ed")
    for pid, action in (("2001.00030", "save"), ("2001.00033", "save"), ("2001.00036", "like")):
        client.post("/-/library", {"paper": pid, "action": action}, status=303)
    library = bibtexparser.parse_string(client.get("/-/library.bib").text)
    assert sorted(e["eprint"] for e in library.entries) == ["2001.00030", "2001.00033"]


def test_library_bib_is_capped_and_waits_for_the_export_slot(site, monkeypatch):
    """As every web export: at most BIB_CAP entries (the file says so, as does a header),
    one export at a time, and too many waiting are told to retry."""
    client = signed_in(site, "bob")
    for pid in ("2001.00060", "2001.00063", "2001.00066"):
        client.post("/-/library", {"paper": pid, "action": "save"}, status=303)
    saved = [p for p, action in library_rows(site, "bob") if action == "save"]
    monkeypatch.setattr(bib, "BIB_CAP", len(saved) - 1)
    response = client.get("/-/library.bib")
    assert response.headers["x-papertrack-truncated"] == str(len(saved) - 1)
    assert response.text.startswith(f"@comment{{papertrack: more than {len(saved) - 1:,} saved papers")
    assert len(bibtexparser.parse_string(response.text).entries) == len(saved) - 1
    monkeypatch.setattr(guard, "EXPORTS_WAITING", 0)  # the slot's queue is full
    busy = client.get("/-/library.bib", status=503)
    assert busy.headers["retry-after"] == str(guard.RETRY_AFTER) and "exports are waiting" in busy.text


def test_muted_words_hide_papers_from_that_reader_only(site):
    alice, bob = signed_in(site, "alice"), signed_in(site, "bob")
    everyone = bob.get("/browse?q=binary+network&sort=newest").text
    total = int(re.search(r'id="total">([\d,]+) papers', everyone).group(1))
    alice.post("/-/library/muted", {"phrase": TITLE_WORD.upper(), "action": "mute"}, status=303)
    mine = alice.get("/browse?q=binary+network&sort=newest").text
    assert int(re.search(r'id="total">([\d,]+) papers', mine).group(1)) == total - 1
    assert TITLE_WORD in re.search(r'id="muted-line">(.*?)</p>', mine).group(1)
    seen = []
    path: str | None = "/browse?q=binary+network"
    while path:
        html = alice.get(path).text
        seen += CARD.findall(html)
        m = re.search(r'<a href="([^"]+)" rel="next"', html)
        path = m.group(1).replace("&amp;", "&") if m else None
    assert SEVEN not in seen and len(seen) == total - 1
    feed = feedparser.parse(alice.get("/browse.atom?q=" + TITLE_WORD).text)
    assert feed.entries == []
    assert SEVEN in bob.get("/browse?q=" + TITLE_WORD).text
    alice.post("/-/library/muted", {"phrase": TITLE_WORD, "action": "unmute"}, status=303)
    assert SEVEN in alice.get("/browse?q=" + TITLE_WORD).text


def test_what_readers_type_is_escaped_everywhere(site):
    client = signed_in(site, "dan")
    hostile = '<script>alert("x")</script> & "pruning"'
    client.post("/-/library/searches", {"name": hostile, "query": "q=binary&tag=pruning", "action": "save"}, status=303)
    page = client.get("/-/library").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    feed_url = client.json("/-/library.json")["searches"][0]["feed"].removeprefix("http://localhost")
    body = browser(site).get(feed_url).text
    assert "<script>" not in body and feedparser.parse(body).feed.title.endswith(f"{hostile} (“binary”, tag pruning)")
    client.post("/-/library/muted", {"phrase": "<b>bold</b> words", "action": "mute"}, status=303)
    assert "<b>" not in client.get("/-/library").text.split('id="muted"')[1]
    client.post("/-/library", {"paper": HOSTILE_ID, "action": "save"}, status=303)
    assert "<script>alert" not in client.get("/-/library").text


def test_saved_searches_come_with_private_feeds(site):
    client = signed_in(site, "ed")
    client.post(
        "/-/library/searches",
        {"name": "pruning", "query": "tag=pruning&sort=oldest&start=40&junk=1", "action": "save"},
        status=303,
    )
    [search] = [s for s in client.json("/-/library.json")["searches"] if s["name"] == "pruning"]
    assert search["query"] == "tag=pruning&sort=oldest"
    feed = feedparser.parse(browser(site).get(search["feed"].removeprefix("http://localhost")).text)
    assert len(feed.entries) == min(50, papers_db.pruning_count())
    token = search["feed"].split("/-/feeds/")[1].split("/")[0]
    number, secret = token.split(".")
    other = int(number) + 1
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")  # one character off (a secret may end in x)
    for bad in (f"{number}.{wrong}", f"{other}.{secret}", "x", f"{number}.{secret}"[:-3]):
        browser(site).get(search["feed"].removeprefix("http://localhost").replace(token, bad), status=404)
    browser(site).get(f"/-/feeds/{token}/search/999999.atom", status=404)
    client.post("/-/library/searches", {"name": "nothing", "query": "", "action": "save"}, status=400)
    client.post("/-/library/searches", {"name": "bad", "query": "year=abc", "action": "save"}, status=400)
    many = "&".join(f"tag=t{i}" for i in range(51))
    refused = client.post("/-/library/searches", {"name": "many", "query": many, "action": "save"}, status=400)
    assert "more than 50 fields" in refused.text
    client.post("/-/library/searches", {"id": str(search["id"]), "action": "delete"}, status=303)
    assert all(s["name"] != "pruning" for s in client.json("/-/library.json")["searches"])


def test_private_feeds_run_as_the_pages_do(site, monkeypatch):
    """A saved search's feed runs its queries as the browse page does (`browse.read_snapshot`:
    one snapshot, the time limit): with no time at all it is cut off like a page."""
    client = signed_in(site, "dan")  # carol is locked out by then
    client.post("/-/library/searches", {"name": "binary", "query": "q=binary", "action": "save"}, status=303)
    [search] = [s for s in client.json("/-/library.json")["searches"] if s["name"] == "binary"]
    path = search["feed"].removeprefix("http://localhost")
    ok = browser(site).get(path)
    assert ok.headers["cache-control"] == "private, max-age=300" and "server-timing" in ok.headers
    assert len(feedparser.parse(ok.text).entries) > 0
    monkeypatch.setattr(browse, "TIME_LIMIT_FACTOR", 0)
    cut = browser(site).get(path, status=400)
    assert "took too long" in cut.text and "took too long" in browser(site).get("/browse.atom?q=binary", status=400).text


def test_the_library_database_is_out_of_reach(site):
    ds, _, tmp = site
    client = signed_in(site, "ed")  # an editor: on a public site the one who may run SQL
    assert set(ds.databases) - {"_internal"} == {"papers"}
    assert client.request("GET", "/-/databases.json").status_code == 404  # the public profile hides paths
    for path in (
        "/library.json",
        "/library/users.json",
        "/_papertrack_library/users.json",
        "/library/users",
        "/-/library/users.json",
    ):
        assert client.request("GET", path).status_code in (403, 404), path
    attached = client.json("/papers.json?sql=select+name,+file+from+pragma_database_list&_shape=array")
    assert [d["name"] for d in attached] == ["main"]
    for sql in ("select * from users", "select * from library.users", f"attach database '{tmp}/library.db' as lib"):
        response = client.request("GET", "/papers.json?sql=" + sql.replace(" ", "+") + "&_shape=array")
        assert response.status_code >= 400 and "argon2" not in response.text
    client.get("/-/metadata.json", status=404)  # the public profile hides plugin settings (paths) too


def test_for_you_asks_a_small_profile_for_more(site):
    client = signed_in(site, "frank")
    html = client.get("/browse?sort=for-you").text
    assert "Your ranking needs 3 more saved or liked papers" in html
    assert len(CARD.findall(html)) == 20 and "<strong>for you</strong>" in html
    client.post("/-/library", {"paper": "2001.00040", "action": "save"}, status=303)
    client.post("/-/library", {"paper": "2001.00041", "action": "like"}, status=303)
    client.post("/-/library", {"paper": "2001.00042", "action": "dislike"}, status=303)
    assert "needs 1 more saved or liked paper " in client.get("/browse?sort=for-you").text


def test_feeds_answer_404_without_accounts(tmp_path):
    ds = datasette_for(papers_db.build(tmp_path / "papers.db"))
    client = CookieClient(ds)
    client.get("/-/feeds/1.abc/for-you.atom", status=404)
    client.get("/-/library.json", status=404)
    assert client.get("/-/login", status=404)
    assert 'id="sign-in"' not in client.get("/browse").text
    client.close()


def test_entries_functions_are_what_the_routes_use(site):
    """The JSON is the library: what a route wrote is what `entries` reads."""
    conn = sqlite3.connect(site[2] / "library.db")
    user = users.get_user(conn, "alice")
    assert {e.paper for e in entries.entries(conn, user.id)} == {p for p, _ in library_rows(site, "alice")}
    conn.close()
