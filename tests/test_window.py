"""The date window (--from/--to: whole days, both included), defined once in
`models.window_sql`: every place that applies it agrees at the edges of the days."""

from __future__ import annotations

import pytest

from papertrack.bibtex.export import select_ids
from papertrack.errors import UsageError
from papertrack.models import window_params
from papertrack.newsletter.digest import select
from papertrack.rank.scores import candidates
from papertrack.store.papers import save_papers
from papertrack.store.schema import transaction
from papertrack.web.metadata import CANNED_QUERIES
from tests.helpers import make_paper

SUBMITTED = {
    "2401.00001": "2024-01-04T23:59:59Z",  # the evening before --from
    "2401.00002": "2024-01-05T00:00:00Z",  # --from at midnight
    "2401.00003": "2024-01-06T23:59:00Z",  # 23:59 on --to
    "2401.00004": "2024-01-07T00:00:00Z",  # 00:00 the day after --to
    "2401.00005": "2024-01-06",  # a bare day (papers from BibTeX or DBLP)
}
INSIDE = ["2401.00002", "2401.00003", "2401.00005"]


def _canned(name: str):
    def run(db, start, end):
        params = {"from": start, "to": end, "profile": "p"}
        return [r[0] for r in db.execute(CANNED_QUERIES[name]["sql"], params)]

    return run


PLACES = {
    "papertrack candidates (rank/scores.py)": lambda db, a, b: [c.id for c in candidates(db.conn, "p", a, b, limit=None)],
    "papertrack digest (newsletter/digest.py)": lambda db, a, b: [e.id for e in select(db, a, b).entries],
    "papertrack bibtex (bibtex/export.py)": lambda db, a, b: select_ids(db, date_from=a, date_to=b),
    "the window canned query (web/metadata.py)": _canned("window"),
    "the candidates canned query (web/metadata.py)": _canned("candidates"),
}


@pytest.mark.parametrize("place", PLACES)
def test_a_window_holds_its_whole_first_and_last_day(db, place):
    with transaction(db):
        save_papers(db, [make_paper(pid, id=pid, published=day) for pid, day in SUBMITTED.items()])
        db.execute("insert into rank_models (profile, settings) values ('p', '{}')")
        db.conn.executemany("insert into scores (papers_id, profile, score, why) values (?, 'p', 1.0, '[]')",
                            [[pid] for pid in SUBMITTED])  # fmt: skip
    assert sorted(PLACES[place](db, "2024-01-05", "2024-01-06")) == INSIDE
    if "digest" not in place:  # the digest needs both days; the others leave a side open
        assert sorted(PLACES[place](db, "2024-01-05", None)) == sorted([*INSIDE, "2401.00004"])
        assert sorted(PLACES[place](db, None, "2024-01-06")) == ["2401.00001", *INSIDE]


def test_window_bounds_are_read_as_days():
    assert window_params("2024-01-05", None) == {"from": "2024-01-05", "to": None}
    with pytest.raises(UsageError, match=r"the date window ends \(2024-01-04\) before it starts \(2024-01-05\)"):
        window_params("2024-01-05", "2024-01-04")
    with pytest.raises(UsageError, match=r"window end '2024-13-01' is not a date"):
        window_params(None, "2024-13-01")
