"""Drafts of the digest's headlines and summaries by a language model, through Simon
Willison's `llm` library: whichever model its plugins give the editor (an API model whose
key `llm keys set` stored, or a local one through llm-gguf or llm-ollama). Keys and the
default model are llm's own configuration: nothing here reads or stores a key.

Nothing is sent to a model unless the editor asks (`papertrack draft`, the desk's Draft
button): this is the only module that imports `llm`, and only when drafting. The prompt
is a Jinja2 template (templates/draft-prompt.txt, or the editor's own file); the model's
answer is read from its `headline:` and `summary:` lines and stored apart from the
editor's words (`store.drafts`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils

from papertrack.errors import ConfigError, SourceError, UsageError
from papertrack.newsletter.editorial import issue_date, picked_ids
from papertrack.store.drafts import Draft, accept_draft, paper_drafts, save_draft
from papertrack.store.ids import resolve_id, resolve_ids
from papertrack.store.schema import ids_json, transaction

LANGS = ("zh", "en")
BUILTIN = "draft-prompt.txt"
SETUP = (
    "drafts need a language model through the llm library: pip install 'papertrack[llm]', then give it a model: "
    "'llm keys set openai' (or another plugin's key), or a local one ('llm install llm-ollama' or llm-gguf, "
    "then 'llm models default NAME')"
)
MAX_HEADLINE = 200  # characters kept of a model's headline
MAX_SUMMARY = 2000  # and of its summary
_LINE = re.compile(r"^\W*(headline|summary|标题|摘要)\W*?[:：][\s*]*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class DraftUnavailable(UsageError):
    """No model to draft with (llm missing, an unknown model, no key): says how to set one up."""


@dataclass(frozen=True)
class Prompt:
    """A prompt template: its name (a file name), text, and version (name and a hash of
    the text: what each draft records)."""

    name: str
    text: str

    @property
    def version(self) -> str:
        return f"{self.name}@{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:12]}"

    def render(self, paper: dict[str, Any], lang: str) -> str:
        env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        try:
            return env.from_string(self.text).render(lang=lang, **paper)
        except jinja2.TemplateSyntaxError as e:
            raise ConfigError(self.name, e.lineno, f"prompt template: {e.message}") from None
        except jinja2.TemplateError as e:
            raise ConfigError(self.name, None, f"prompt template: {e}") from None


@dataclass(frozen=True)
class Written:
    """One paper's draft as the model answered it (or why none was stored)."""

    paper: str
    headline: str | None = None
    summary: str | None = None
    problem: str | None = None


def load_prompt(path: str | Path | None = None) -> Prompt:
    """The editor's prompt template from `path`, else the built-in one."""
    if path is None:
        return Prompt(BUILTIN, resources.files("papertrack.newsletter").joinpath("templates", BUILTIN).read_text("utf-8"))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), None, f"cannot read the prompt: {getattr(e, 'strerror', None) or e}") from None
    prompt = Prompt(Path(path).name, text)
    prompt.render({"title": "", "abstract": "", "authors": [], "venue": None}, "zh")  # fails now, not after a model call
    return prompt


def get_model(name: str | None = None) -> Any:
    """llm's model `name` (else llm's default model), ready to answer; `DraftUnavailable`
    saying how to set one up when llm is missing, the model unknown or its key not set."""
    try:
        import llm
    except ImportError:
        raise DraftUnavailable(SETUP) from None
    try:
        model = llm.get_model(name) if name else llm.get_model()
    except llm.UnknownModelError:
        which = f"no model {name!r}" if name else f"no default model {llm.get_default_model()!r}"
        raise DraftUnavailable(
            f"llm has {which} ('llm models' lists the installed ones; 'llm models default NAME' chooses one)"
        ) from None
    except Exception as e:  # a broken llm plugin, an unreadable llm configuration: one line, not a traceback
        raise DraftUnavailable(
            f"llm could not load its models: {' '.join(str(e).split())[:300] or type(e).__name__}"
        ) from None
    alias = getattr(model, "needs_key", None)
    if alias and not getattr(model, "key", None) and not llm.get_key(None, alias, getattr(model, "key_env_var", None)):
        raise DraftUnavailable(
            f"model {model.model_id} needs a key: 'llm keys set {alias}', or choose another model "
            "('llm models default NAME'; local models through llm-gguf or llm-ollama)"
        )
    return model


def unavailable(name: str | None = None) -> str | None:
    """Why drafting cannot work now (the setup line), or None; never calls the model."""
    try:
        get_model(name)
    except DraftUnavailable as e:
        return str(e)
    return None


def model_id(model: Any) -> str:
    return str(getattr(model, "model_id", model))


def papers_to_draft(
    db: sqlite_utils.Database, issue: str, papers: list[str] | None = None, lang: str = "zh", again: bool = False
) -> list[dict[str, Any]]:
    """The picks of `issue` (or those of `papers`, which must be picked) that need a draft
    in `lang`, in the issue's order: each paper's id, title, abstract, authors and venue.
    Papers drafted before are left out unless `again`."""
    if lang not in LANGS:
        raise UsageError(f"language {lang!r}: use {' or '.join(LANGS)}")
    issue = issue_date(issue)
    order = picked_ids(db, issue)
    if not order:
        raise UsageError(f"nothing is picked for {issue}: pick papers first")
    wanted = order
    if papers:
        chosen = resolve_ids(db, papers)
        missing = [p for p in chosen if p not in order]
        if missing:
            raise UsageError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not picked for {issue}")
        wanted = [p for p in order if p in chosen]
    if not again:
        drafted = paper_drafts(db, wanted, lang)
        wanted = [p for p in wanted if p not in drafted]
    rows = {
        r["id"]: r
        for r in db.query(
            "select id, title, abstract, authors, venue from papers where id in (select value from json_each(?))",
            [ids_json(wanted)],
        )
    }
    return [{**rows[p], "authors": _authors(rows[p]["authors"])} for p in wanted]


def draft(model: Any, prompt: Prompt, paper: dict[str, Any], lang: str) -> Written:
    """Ask the model for one paper's headline and summary. A model or service failure is a
    `SourceError` naming the paper and the model; an answer without the two lines is a
    `Written` with its `problem`. A paper without an abstract is not sent: from a title
    alone a model invents."""
    if not (paper.get("abstract") or "").strip():
        return Written(paper["id"], problem="it has no abstract to draft from: write its note yourself")
    text = prompt.render({k: paper.get(k) for k in ("title", "abstract", "authors", "venue")}, lang)
    try:
        answer = model.prompt(text).text()
    except Exception as e:  # whatever the model's plugin raises (network, quota, key): one line
        message = " ".join(str(e).split())[:300] or type(e).__name__
        raise SourceError(f"model {model_id(model)} failed on {paper['id']}: {message}") from None
    headline, summary = parse_answer(answer)
    if not (headline or summary):
        return Written(paper["id"], problem=f"the answer has no 'headline:' or 'summary:' line: {_short(answer)!r}")
    return Written(paper["id"], headline, summary)


def draft_all(
    model: Any, prompt: Prompt, papers: list[dict[str, Any]], lang: str, save: Callable[[Written], object]
) -> Iterator[Written]:
    """Draft each paper in turn, `save` each draft as soon as it is written (a failure
    later keeps it), and yield what happened to each."""
    for paper in papers:
        written = draft(model, prompt, paper, lang)
        if written.problem is None:
            save(written)
        yield written


def store(db: sqlite_utils.Database, written: Written, lang: str, model: Any, prompt: Prompt) -> int:
    """Keep one draft (its own transaction); returns its id."""
    with transaction(db):
        return save_draft(db, written.paper, lang, written.headline, written.summary, model_id(model), prompt.version)


def accept(db: sqlite_utils.Database, paper: str, lang: str = "zh", draft_id: int | None = None) -> Draft:
    """Accept a paper's newest draft in `lang` (or draft `draft_id`): the digest uses it
    where the editor's note says nothing."""
    pid = resolve_id(db, paper)
    with transaction(db):
        return accept_draft(db, pid, lang, draft_id)


def parse_answer(answer: str) -> tuple[str | None, str | None]:
    """The `headline:` and `summary:` of a model's answer (markdown emphasis, quotes and
    full-width colons allowed; the summary may go on over several lines), bounded."""
    found: dict[str, list[str]] = {}
    current = None
    for line in _CONTROL.sub("", answer or "").splitlines():
        m = _LINE.match(line)
        if m:
            current = "headline" if m.group(1).lower() in ("headline", "标题") else "summary"
            found[current] = [line[m.end() :]]
        elif current == "summary" and line.strip():
            found[current].append(line)
    headline = _clean(" ".join(found.get("headline", [])), MAX_HEADLINE)
    summary = _clean("\n".join(found.get("summary", [])), MAX_SUMMARY)
    return headline, summary


def _clean(text: str, limit: int) -> str | None:
    lines = [re.sub(r"^(\*{1,2})(.+)\1$", r"\2", line.strip()).strip() for line in text.splitlines()]  # **bold** lines
    text = "\n".join(line for line in lines if line).strip().strip("\"'“”「」")
    return text[:limit].strip() or None


def _authors(value: str | None) -> list[str]:
    try:
        names = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(n) for n in names][:20] if isinstance(names, list) else []


def _short(text: str, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
