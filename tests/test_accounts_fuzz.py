"""Generated input thrown at every route accounts add (Hypothesis): whatever the form or
the query says, the answer is never a 500 and never shows a traceback."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papertrack.web.accounts import accounts_of
from tests.helpers import CookieClient, site_with_accounts

PASSWORD = "correct horse battery"
IDS = [f"2001.{i:05d}" for i in range(0, 130, 7)] + ["arXiv:2001.00003v2", "https://arxiv.org/abs/2001.00009"]
ACTIONS = ["save", "unsave", "like", "dislike", "clear", "mute", "unmute", "delete"]
anything = st.text(max_size=300)
value = st.one_of(anything, st.sampled_from(IDS + ACTIONS + ["", "0", "-1", "9" * 30, "q=binary&tag=pruning"]))


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    ds = site_with_accounts(tmp_path_factory.mktemp("fuzz"), {"fuzz": "reader"}, PASSWORD)
    client = CookieClient(ds, asyncio.new_event_loop())
    client.login("fuzz", PASSWORD)
    yield client
    accounts_of(ds).close()
    client.close()


def sound(response) -> None:
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text


# X-CSRFToken headers, each as sent: None is the right token
tokens = st.lists(st.one_of(st.none(), st.sampled_from(["é", "", "x"]), st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40)), max_size=3)  # fmt: skip


@given(path=st.sampled_from(["/-/library", "/-/library/muted", "/-/library/searches"]), pairs=st.lists(st.tuples(
    st.sampled_from(["paper", "action", "next", "phrase", "name", "query", "id", "user", "csrftoken"]), value), max_size=8),
    headers=tokens)  # fmt: skip
def test_library_posts_never_fail(reader, path, pairs, headers):
    """Fields and headers may repeat (asgi-csrf reads the last of each, the site the first)."""
    response = reader.post_pairs(path, [("csrftoken", reader.csrftoken()), *pairs], headers)
    sound(response)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/") and not response.headers["location"].startswith("//")


@given(
    pairs=st.lists(st.tuples(st.sampled_from(["username", "password", "next", "csrftoken"]), value), max_size=5),
    headers=tokens,
)
def test_login_never_fails(reader, pairs, headers):
    client = CookieClient(reader.ds, reader.loop)
    sound(client.post_pairs("/-/login", [("csrftoken", client.csrftoken()), *pairs], headers))


@given(
    params=st.lists(
        st.tuples(st.sampled_from(["q", "tag", "sort", "after", "start", "year", "category"]), value), max_size=5
    )
)
def test_the_readers_browse_page_never_fails(reader, params):
    sound(reader.request("GET", "/browse?" + urlencode([("sort", "for-you"), *params])))
    sound(reader.request("GET", "/browse.bib?" + urlencode([("sort", "for-you"), *params])))


@given(token=anything, what=st.sampled_from(["for-you", "search/1", "search/99999999999", "nothing"]))
def test_feeds_never_fail(reader, token, what):
    sound(reader.request("GET", f"/-/feeds/{quote(token, safe='')}/{what}.atom"))


@given(path=st.sampled_from(["/-/library.json", "/-/library.bib", "/-/library", "/-/logout"]), query=anything)
def test_library_gets_never_fail(reader, path, query):
    sound(reader.request("GET", f"{path}?{urlencode({'x': query, 'user': query})}"))


@given(body=st.binary(max_size=2000), kind=st.sampled_from(
    ["application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x", "text/plain", ""]))  # fmt: skip
def test_raw_post_bodies_never_fail(reader, body, kind):
    for path in ("/-/library", "/-/login", "/-/logout", "/-/library/muted"):
        sound(reader.request("POST", path, content=body, headers={"content-type": kind} if kind else {}))


def test_large_bodies_are_refused(reader):
    response = reader.request("POST", "/-/library", content=b"a=" + b"x" * (2 * 1024 * 1024),
                              headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 413
