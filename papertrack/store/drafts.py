"""Drafts of the digest's headlines and summaries written by a language model (table
`drafts`), kept apart from the editor's notes: which model wrote each, with which prompt,
when, and whether the editor accepted it. At most one draft of a paper is accepted per
language. Transactions are the caller's (`schema.transaction`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.models import now_iso

# the table as `schema.TABLES` describes tables (merged there)
TABLES: dict[str, dict] = {
    "drafts": {
        "doc": "Drafts of a paper's headline and summary by a language model (papertrack draft, the desk's Draft "
        "button), apart from the editor's notes; a digest uses an accepted one where the note says nothing.",
        "pk": "id",
        "columns": {
            "id": (int, "Draft id"),
            "papers_id": (str, "Paper"),
            "lang": (str, "Language of the draft: zh or en"),
            "headline": (str, "The draft headline"),
            "summary": (str, "The draft summary (摘要)"),
            "model": (str, "The model that wrote it (its llm model id)"),
            "prompt_version": (str, "The prompt it was written with: the template's name and a hash of its text"),
            "created": (str, "When it was written, ISO-8601 UTC"),
            "accepted": (str, "When the editor accepted it (null: not accepted); one accepted draft per paper and language"),
        },
        "foreign_keys": [("papers_id", "papers", "id")],
    },
}
_COLUMNS = "id, papers_id, lang, headline, summary, model, prompt_version, created, accepted"


@dataclass(frozen=True)
class Draft:
    id: int
    paper: str
    lang: str
    headline: str | None
    summary: str | None
    model: str
    prompt_version: str
    created: str
    accepted: str | None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PaperDrafts:
    """A paper's drafts in one language that matter: the accepted one and the newest."""

    accepted: Draft | None
    newest: Draft


def save_draft(
    db: sqlite_utils.Database,
    paper: str,
    lang: str,
    headline: str | None,
    summary: str | None,
    model: str,
    prompt_version: str,
) -> int:
    """Store a new draft (not accepted); returns its id."""
    cursor = db.execute(
        "insert into drafts (papers_id, lang, headline, summary, model, prompt_version, created) values (?, ?, ?, ?, ?, ?, ?)",
        [paper, lang, headline, summary, model, prompt_version, now_iso()],
    )
    return int(cursor.lastrowid or 0)


def accept_draft(db: sqlite_utils.Database, paper: str, lang: str, draft_id: int | None = None) -> Draft:
    """Accept the paper's newest draft in `lang` (or the draft `draft_id`, which must be
    one of them); any draft accepted before for the paper and language is not any more."""
    row = db.execute(
        f"select {_COLUMNS} from drafts where papers_id = ? and lang = ? and (? is null or id = ?) "
        "order by created desc, id desc limit 1",
        [paper, lang, draft_id, draft_id],
    ).fetchone()
    if row is None:
        which = f"draft {draft_id}" if draft_id is not None else f"draft in {lang!r}"
        raise UsageError(f"{paper} has no {which}: write one first (papertrack draft --issue DATE)")
    db.execute("update drafts set accepted = null where papers_id = ? and lang = ? and id != ?", [paper, lang, row[0]])
    db.execute("update drafts set accepted = coalesce(accepted, ?) where id = ?", [now_iso(), row[0]])
    return _draft(db.execute(f"select {_COLUMNS} from drafts where id = ?", [row[0]]).fetchone())


def paper_drafts(db: sqlite_utils.Database, ids: list[str], lang: str) -> dict[str, PaperDrafts]:
    """{paper: its accepted and its newest draft in `lang`} for those of `ids` with drafts."""
    out: dict[str, PaperDrafts] = {}
    rows = db.execute(
        f"select {_COLUMNS} from drafts where lang = ? and papers_id in (select value from json_each(?)) "
        "order by papers_id, created desc, id desc",
        [lang, _json(ids)],
    )
    for draft in map(_draft, rows):
        found = out.get(draft.paper)
        if found is None:
            out[draft.paper] = PaperDrafts(draft if draft.accepted else None, draft)
        elif draft.accepted and found.accepted is None:
            out[draft.paper] = PaperDrafts(draft, found.newest)
    return out


def _draft(row: tuple) -> Draft:
    return Draft(*row)


def _json(ids: list[str]) -> str:
    return json.dumps(list(ids))  # not schema.ids_json: schema imports this module
