"""Generated input thrown at every route of the editor's desk (Hypothesis), as an editor
with a valid CSRF token: whatever the form or the query says, the answer is never a 500
and never shows a traceback, and a redirect stays on the site."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import llm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrack.web.accounts import accounts_of
from tests.fake_llm import MODEL_ID, FakeModel, _Plugin
from tests.helpers import CookieClient, site_with_accounts

PASSWORD = "correct horse battery"
IDS = ["2001.00007", "arXiv:2001.00003v2", "https://arxiv.org/abs/2001.00009", "2001.09999", "2001.99999"]
DAYS = ["2030-01-20", "2020-01-01", "2020-02-30", "20300120", "2030-1-2", "０２０-01-01", "9999-12-31", "0001-01-01"]
anything = st.text(max_size=300)
value = st.one_of(
    anything,
    st.sampled_from(IDS + DAYS + ["", "0", "1", "-1", "9" * 30, "zh", "en", "fr", MODEL_ID, "picks", "javascript:x"]),
)
FIELDS = ["issue", "paper", "position", "headline", "source", "source_url", "summary", "code", "model", "lang",
          "draft", "next", "from", "to", "profile", "drafts", "csrftoken"]  # fmt: skip
POSTS = ["/-/desk", "/-/desk/pick", "/-/desk/unpick", "/-/desk/move", "/-/desk/note", "/-/desk/draft", "/-/desk/accept"]
SLOW = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    model = FakeModel()
    llm.plugins.pm.register(_Plugin(model), name="papertrack-fake-fuzz")
    ds = site_with_accounts(tmp_path_factory.mktemp("desk-fuzz"), {"ed": "editor"}, PASSWORD)
    client = CookieClient(ds, asyncio.new_event_loop())
    client.login("ed", PASSWORD)
    client.post("/-/desk/pick", {"issue": "2030-01-20", "paper": "2001.00007"}, status=303)
    yield client
    llm.plugins.pm.unregister(name="papertrack-fake-fuzz")
    accounts_of(ds).close()
    client.close()


def sound(response, path: str = "") -> None:
    if path == "/-/desk/draft" and response.status_code == 503:  # llm's default model has no key here
        assert "llm keys set" in response.text or "llm models default" in response.text, response.text[:500]
        return
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text
    if response.status_code in (302, 303):
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith("//")


@SLOW
@given(
    path=st.sampled_from(POSTS),
    pairs=st.lists(st.tuples(st.sampled_from(FIELDS), value), max_size=10),
    headers=st.lists(st.one_of(st.none(), st.sampled_from(["é", "", "x"]), anything), max_size=3),
)
def test_desk_posts_never_fail(editor, path, pairs, headers):
    """Fields and X-CSRFToken headers may repeat (None: the right token)."""
    headers = [h if h is None else "".join(c for c in h if c.isprintable()) for h in headers]  # no control characters
    sound(editor.post_pairs(path, [*pairs, ("csrftoken", editor.csrftoken())], headers), path)


@SLOW
@given(
    path=st.sampled_from(["/-/desk", "/-/desk/digest.md"]),
    params=st.lists(st.tuples(st.sampled_from(FIELDS), value), max_size=6),
)
def test_desk_pages_never_fail(editor, path, params):
    sound(editor.request("GET", f"{path}?{urlencode(params)}"))
    sound(editor.request("GET", f"{path}?{urlencode(params)}", headers={"accept": "application/json"}))


@given(
    body=st.binary(max_size=2000),
    kind=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""]),
)
def test_raw_bodies_never_fail(editor, body, kind):
    for path in POSTS:
        sound(editor.request("POST", path, content=body, headers={"content-type": kind} if kind else {}))
