"""Drafts by a language model (a fake one, registered through llm's `register_models`
hook): `papertrack draft`, accepting, the digest's precedence (the editor's note, else an
accepted draft, else the extracted sentence), `digest --drafts`, the set-up line without
llm or without a model, and that nothing else ever calls the model."""

from __future__ import annotations

import sys

import llm
import pytest

from papertrack.errors import ConfigError
from papertrack.newsletter import drafting
from papertrack.newsletter.digest import render, select
from papertrack.newsletter.editorial import Note, pick, set_note
from papertrack.store.drafts import accept_draft, paper_drafts, save_draft
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db, transaction
from tests.fake_llm import MODEL_ID, fake_model  # noqa: F401  (the fixture)
from tests.helpers import BASIC_QUERIES, make_paper, write_queries

ISSUE = "2020-01-20"
CARS = make_paper(
    "1909.04977", title="CARS: Continuous Evolution for Efficient Neural Architecture Search",
    abstract="We propose CARS, an efficient continuous evolutionary approach for architecture search. It is fast.",
    published="2020-01-08T00:00:00Z",
)  # fmt: skip
BNN = make_paper(3, title="BNN-X: binary networks that work", published="2020-01-10T00:00:00Z")


@pytest.fixture
def work(tmp_path):
    """A papers database with two papers picked for ISSUE, and a queries.yaml beside it."""
    db = open_db(tmp_path / "papers.db")
    with transaction(db):
        save_papers(db, [CARS, BNN])
    pick(db, [CARS.id, BNN.id], ISSUE)
    db.close()
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    return tmp_path


def digest(run_cli, *args: str) -> str:
    result = run_cli("digest", "--db", "papers.db", "--issue", ISSUE, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_draft_writes_each_pick_once_and_the_digest_waits_for_acceptance(work, run_cli, fake_model):  # noqa: F811
    before = digest(run_cli)
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID)
    assert result.exit_code == 0, result.output
    assert f"{CARS.id}: CARS：一种更小更快的网络" in result.stdout and BNN.id in result.stdout
    assert len(fake_model.prompts) == 2 and "Title: CARS: Continuous Evolution" in fake_model.prompts[0]
    assert "中文标题" in fake_model.prompts[0] and "IR-Net" in fake_model.prompts[0]  # the built-in prompt's example
    db = open_db(work / "papers.db")
    drafts = paper_drafts(db, [CARS.id, BNN.id], "zh")
    cars = drafts[CARS.id].newest
    assert cars.model == MODEL_ID and cars.prompt_version.startswith("draft-prompt.txt@") and cars.accepted is None
    assert (
        cars.summary
        == "本文提出 We propose CARS, an efficient continuous evolutionary approach for architecture search。\n在 ImageNet 上更快。"
    )
    assert digest(run_cli) == before  # nothing accepted: the digest is unchanged

    again = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID)
    assert "every pick of 2020-01-20 has a draft" in again.stdout and len(fake_model.prompts) == 2

    marked = digest(run_cli, "--drafts")
    assert "- [【草稿】CARS：一种更小更快的网络 | arXiv](https://arxiv.org/abs/1909.04977)  \n" in marked
    assert (
        "摘要：【草稿】本文提出 We propose CARS, an efficient continuous evolutionary approach for architecture search。  \n在 ImageNet 上更快。  \n"
        in marked
    )

    said = run_cli("digest", "--db", "papers.db", "--issue", ISSUE, "--drafts").stderr
    assert "2 entries (the picks for 2020-01-20; 2 unaccepted drafts, marked)" in said

    accepted = run_cli("draft", "--db", "papers.db", "--accept", f"arXiv:{CARS.id}v2")
    assert accepted.exit_code == 0 and "accepted the draft by papertrack-fake" in accepted.stdout
    text = digest(run_cli)
    assert "- [CARS：一种更小更快的网络 | arXiv]" in text and "摘要：本文提出 We propose CARS" in text
    assert "草稿" not in text and "BNN-X: binary networks that work | arXiv" in text  # BNN's draft is not accepted
    english = run_cli("digest", "--db", "papers.db", "--issue", ISSUE, "--lang", "en").stdout
    assert "CARS：" not in english  # drafts are per language


def test_the_editors_note_wins_over_an_accepted_draft_field_by_field(db):
    with transaction(db):
        save_papers(db, [CARS])
    pick(db, [CARS.id], ISSUE)
    with transaction(db):
        save_draft(db, CARS.id, "zh", "草稿标题", "草稿摘要", MODEL_ID, "p@1")
        accept_draft(db, CARS.id, "zh")
    set_note(db, CARS.id, Note(headline="编辑的标题"))
    text = render(select(db, issue=ISSUE), "zh")
    assert "[编辑的标题 | arXiv]" in text and "摘要：草稿摘要  \n" in text
    set_note(db, CARS.id, Note(summary="编辑的摘要"))
    assert "摘要：编辑的摘要  \n" in render(select(db, issue=ISSUE), "zh")
    set_note(db, CARS.id, Note(headline="", summary=""))  # cleared: the accepted draft again
    assert "[草稿标题 | arXiv]" in render(select(db, issue=ISSUE), "zh")


def test_accepting_one_draft_unaccepts_the_others(db):
    with transaction(db):
        save_papers(db, [CARS])
        first = save_draft(db, CARS.id, "zh", "一", "一", MODEL_ID, "p@1")
        save_draft(db, CARS.id, "zh", "二", "二", MODEL_ID, "p@1")
        assert accept_draft(db, CARS.id, "zh").headline == "二"
        assert accept_draft(db, CARS.id, "zh", first).headline == "一"
    found = paper_drafts(db, [CARS.id], "zh")[CARS.id]
    assert found.accepted.id == first and found.newest.headline == "二"
    assert db.execute("select count(*) from drafts where accepted is not null").fetchone()[0] == 1
    with pytest.raises(Exception, match="has no draft in 'en'"):
        accept_draft(db, CARS.id, "en")


def test_model_text_is_escaped_in_the_digest(db, fake_model):  # noqa: F811
    with transaction(db):
        save_papers(db, [CARS])
    pick(db, [CARS.id], ISSUE)
    fake_model.answer = "headline: [click](javascript:alert(1)) <script>x</script>\nsummary: - a list\n## heading *bold*"
    todo = drafting.papers_to_draft(db, ISSUE)
    model, prompt = drafting.get_model(MODEL_ID), drafting.load_prompt()
    written = list(drafting.draft_all(model, prompt, todo, "zh", lambda w: drafting.store(db, w, "zh", model, prompt)))
    drafting.accept(db, CARS.id)
    text = render(select(db, issue=ISSUE), "zh")
    assert written[0].headline.startswith("[click]")
    assert (
        "- [\\[click\\](javascript:alert(1)) \\<script\\>x\\</script\\> | arXiv](https://arxiv.org/abs/1909.04977)" in text
    )
    assert "摘要：\\- a list  \n\\#\\# heading \\*bold\\*  \n" in text


def test_parse_answer_reads_the_two_lines_and_bounds_them():
    assert drafting.parse_answer("Sure!\n**Headline**：A：b\n\nSummary: one.\ntwo.\n") == ("A：b", "one.\ntwo.")
    assert drafting.parse_answer("标题：甲\n摘要：乙") == ("甲", "乙")
    assert drafting.parse_answer("no format at all") == (None, None)
    headline, summary = drafting.parse_answer("headline: " + "x" * 5000 + "\x00\nsummary: " + "y" * 5000)
    assert len(headline) == drafting.MAX_HEADLINE and len(summary) == drafting.MAX_SUMMARY and "\x00" not in headline


def test_an_answer_without_the_lines_is_reported_and_not_stored(work, run_cli, fake_model):  # noqa: F811
    fake_model.answer = "I cannot help with that."
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID)
    assert result.exit_code == 0 and "no draft: the answer has no 'headline:'" in result.stderr
    db = open_db(work / "papers.db")
    assert db.execute("select count(*) from drafts").fetchone()[0] == 0


def test_a_paper_without_an_abstract_is_not_sent_to_the_model(work, run_cli, fake_model):  # noqa: F811
    db = open_db(work / "papers.db")
    with transaction(db):
        db.execute("update papers set abstract = '' where id = ?", [BNN.id])
    db.close()
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID)
    assert result.exit_code == 0 and "it has no abstract to draft from" in result.stderr
    assert len(fake_model.prompts) == 1 and "BNN-X" not in fake_model.prompts[0]
    db = open_db(work / "papers.db")
    assert [r[0] for r in db.execute("select papers_id from drafts")] == [CARS.id]


def test_a_failing_model_is_one_line_and_keeps_the_drafts_written(work, run_cli, fake_model):  # noqa: F811
    fake_model.fail_on = "BNN-X"
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID)
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == (f"Error: model {MODEL_ID} failed on {BNN.id}: quota exceeded for this key")
        and "Traceback" not in result.output
    )
    db = open_db(work / "papers.db")
    assert [r[0] for r in db.execute("select papers_id from drafts")] == [CARS.id]


def test_a_prompt_file_of_the_editors(work, run_cli, fake_model):  # noqa: F811
    (work / "mine.txt").write_text("Write in {{ lang }} about:\nTitle: {{ title }}\nAbstract: {{ abstract }}\n", "utf-8")
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID, "--prompt", "mine.txt",
                     "--lang", "en", "--paper", BNN.id)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake_model.prompts == [f"Write in en about:\nTitle: {BNN.title}\nAbstract: {BNN.abstract}\n"]
    db = open_db(work / "papers.db")
    assert db.execute("select prompt_version, lang from drafts").fetchone()[0].startswith("mine.txt@")
    (work / "bad.txt").write_text("line one\n{% if %}\n", "utf-8")
    bad = run_cli("draft", "--db", "papers.db", "--issue", ISSUE, "--model", MODEL_ID, "--prompt", "bad.txt")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: bad.txt:2: prompt template:") and not fake_model.prompts[1:]
    with pytest.raises(ConfigError, match="missing.txt"):
        drafting.load_prompt(work / "missing.txt")


def test_the_prompt_version_follows_the_text():
    one, two = drafting.Prompt("p.txt", "a {{ title }}"), drafting.Prompt("p.txt", "b {{ title }}")
    assert one.version != two.version and one.version == drafting.Prompt("p.txt", "a {{ title }}").version


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--issue", "2020-02-02", "--model", MODEL_ID), "Error: nothing is picked for 2020-02-02: pick papers first"),
        (("--issue", ISSUE, "--model", MODEL_ID, "--paper", "2001.99999"), "Error: no paper '2001.99999' in the database"),
        (("--accept", BNN.id), f"Error: {BNN.id} has no draft in 'zh': write one first (papertrack draft --issue DATE)"),
        (("--model", MODEL_ID), "Error: give --issue DATE (the picks to draft) or --accept PAPER"),
        (("--issue", ISSUE, "--model", "no-such-model"), "Error: llm has no model 'no-such-model'"),
        (("--issue", ISSUE), "Error: model "),  # llm's default (an OpenAI model) without a key
    ],
)
def test_bad_requests_are_one_line(work, run_cli, fake_model, args, expected):  # noqa: F811
    result = run_cli("draft", "--db", "papers.db", *args)
    assert result.exit_code == 2 and result.stderr.startswith(expected), result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not fake_model.prompts


def test_without_a_key_the_line_says_how_to_set_one(work, run_cli):
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE)
    assert "needs a key: 'llm keys set openai'" in result.stderr and "llm-ollama" in result.stderr


def test_without_llm_installed_the_line_says_how_to_install_it(work, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "llm", None)  # `import llm` fails as if it were absent
    result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE)
    assert result.exit_code == 2 and result.stderr.strip() == f"Error: {drafting.SETUP}"
    assert "pip install 'papertrack[llm]'" in drafting.SETUP and "llm keys set" in drafting.SETUP
    assert digest(run_cli, "--drafts").startswith("## 论文")  # everything else works


def test_a_broken_llm_plugin_is_one_line(work, run_cli):
    class Broken:
        __name__ = "Broken"

        @llm.hookimpl
        def register_models(self, register):
            raise RuntimeError("plugin exploded\non two lines")

    llm.plugins.pm.register(Broken(), name="papertrack-broken")
    try:
        result = run_cli("draft", "--db", "papers.db", "--issue", ISSUE)
        assert drafting.unavailable() == "llm could not load its models: plugin exploded on two lines"
    finally:
        llm.plugins.pm.unregister(name="papertrack-broken")
    assert result.exit_code == 2 and result.stderr == "Error: llm could not load its models: plugin exploded on two lines\n"


def test_nothing_but_drafting_calls_the_model(work, run_cli, replay, fake_model):  # noqa: F811
    """With the fake model as llm's default, harvest, digest, the desk's pages and the
    other commands never send it anything."""
    llm.set_default_model(MODEL_ID)
    assert drafting.get_model() is fake_model
    server = replay([make_paper(40 + i) for i in range(5)])
    commands = [
        ("harvest",), ("digest", "--issue", ISSUE), ("digest", "--issue", ISSUE, "--drafts"),
        ("digest", "--from", "2020-01-01", "--to", "2020-01-31"), ("pick", "2001.00003", "--issue", ISSUE, "--at", "1"),
        ("note", CARS.id, "--headline", "标题"), ("status",), ("bibtex",), ("retag",),
    ]  # fmt: skip
    for args in commands:
        result = run_cli(*args, "--db", "papers.db", env={"PAPERTRACK_ARXIV_URL": server.url})
        assert result.exit_code == 0, (args, result.output)
    assert fake_model.prompts == []


def test_only_the_drafting_module_imports_llm():
    from tests.helpers import ROOT

    importers = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "papertrack").rglob("*.py")
        if any(line.strip().startswith(("import llm", "from llm")) for line in p.read_text("utf-8").splitlines())
    )
    assert importers == ["papertrack/newsletter/drafting.py"]
