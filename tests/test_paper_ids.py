"""One paper id, every command: each way the README writes a paper id (bare, with a version,
`arXiv:`, abs and pdf URLs) works with tag, untag, note, pick, unpick, key, `bibtex --id`
and Datasette's `/-/paper/<id>` page, for new- and old-style arXiv ids."""

from __future__ import annotations

import asyncio
import re
import urllib.parse

import pytest

from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from papertrack.web.metadata import metadata
from papertrack.web.serve import datasette_for
from tests.helpers import make_paper

PAPERS = [make_paper("1909.04977", version=2), make_paper("hep-th/9901001", version=3)]


def written(pid: str) -> list[str]:
    """Every way of writing `pid` the README promises, and a few more found in the wild."""
    return [
        pid,
        f"{pid}v2",
        f"arXiv:{pid}",
        f"arXiv:{pid}v2",
        f"arxiv:{pid}",
        f"https://arxiv.org/abs/{pid}",
        f"https://arxiv.org/abs/{pid}v2",
        f"http://export.arxiv.org/abs/{pid}",
        f"https://arxiv.org/pdf/{pid}",
        f"https://arxiv.org/pdf/{pid}.pdf",
        f"https://arxiv.org/pdf/{pid}v2",
        f"https://arxiv.org/pdf/{pid}v2.pdf",
        f"arxiv.org/abs/{pid}",
    ]


FORMS = [(p.id, form) for p in PAPERS for form in written(p.id)]


@pytest.fixture
def stocked(tmp_path):
    db = open_db(tmp_path / "db" / "papers.db")
    with transaction(db):
        save_papers(db, PAPERS)
    return db


@pytest.mark.parametrize(("pid", "form"), FORMS)
def test_every_command_takes_every_form_of_an_id(run_cli, stocked, pid, form):
    def ok(*args: str) -> str:
        result = run_cli(*args)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result.stdout

    ok("tag", form, "editors-pick")
    tags = [r[0] for r in stocked.execute("select tag from tag_edits where papers_id = ? and action = 'add'", [pid])]
    assert tags == ["editors-pick"]
    ok("untag", form, "editors-pick")
    assert stocked.execute("select action from tag_edits where papers_id = ?", [pid]).fetchall() == [("remove",)]
    ok("note", form, "--headline", "The editor's headline")
    assert stocked["notes"].get(pid)["headline"] == "The editor's headline"
    ok("pick", form, "--issue", "2020-03-19")
    assert stocked.execute("select papers_id from picks").fetchall() == [(pid,)]
    ok("unpick", form, "--issue", "2020-03-19")
    assert stocked["picks"].count == 0
    ok("key", form, "chosen2020")
    assert stocked.execute("select id from papers where citation_key = 'chosen2020'").fetchall() == [(pid,)]
    entries = re.findall(r"^@\w+\{([^,]+),", ok("bibtex", "--id", form), re.M)
    assert entries == ["chosen2020"]


def test_an_unknown_id_in_any_form_is_one_line(run_cli, stocked):
    for form in ("arXiv:2101.99999v1", "https://arxiv.org/pdf/2101.99999.pdf"):
        for args in (["key", form, "x2020"], ["bibtex", "--id", form], ["pick", form, "--issue", "2020-03-19"]):
            result = run_cli(*args)
            assert (result.exit_code, result.stderr) == (2, f"Error: no paper {form!r} in the database\n"), args


def test_the_paper_page_takes_every_form_of_an_id(stocked, tmp_path):
    ds = datasette_for(tmp_path / "db" / "papers.db", metadata())
    loop = asyncio.new_event_loop()

    def get(path: str):
        return loop.run_until_complete(ds.client.get(path))

    try:
        for pid, form in FORMS:
            row_page = ds.urls.row("papers", "papers", pid.replace(".", "~2E").replace("/", "~2F"))
            for path in (f"/-/paper/{form}", f"/-/paper/{urllib.parse.quote(form, safe='')}"):
                response = get(path)
                assert (response.status_code, response.headers.get("location")) == (302, row_page), path
            assert get(row_page).status_code == 200
        missing = get("/-/paper/arXiv:2101.99999v1")
        assert missing.status_code == 404 and "No paper &#39;arXiv:2101.99999v1&#39; in the database" in missing.text
    finally:
        loop.close()
