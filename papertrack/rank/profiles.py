"""Profiles: fit them (`rank`), keep them current after harvests and imports (`update`).

A profile's positives are the papers carrying its tag, from any origin (a query, the
taxonomy, a manual tag, a library imported with `import-bibtex --tag`), or for `picks`
every paper ever picked for an issue; every other paper is unlabelled and taken as a
negative. The model stored with each profile (`rank_models`) remembers how many
positives it was fitted on and a digest of their ids: `update` refits a profile whose
positives changed and otherwise scores only the papers that have no score yet.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.models import now_iso
from papertrack.rank.recipe import CHUNK, SETTINGS
from papertrack.rank.related import refresh_terms
from papertrack.rank.scores import PICKS
from papertrack.store.schema import transaction

# features and model (numpy, scikit-learn: ~1 s to import) are imported where a fit or a
# scoring needs them: a harvest that brings nothing new pays only a few queries

MIN_POSITIVES = 3


@dataclass
class ProfileReport:
    """What happened to one profile."""

    profile: str
    positives: int
    scored: int = 0  # papers given a score
    refitted: bool = False
    seconds: float = 0.0
    note: str | None = None  # why nothing was scored


@dataclass
class RankReport:
    profiles: list[ProfileReport]
    papers: int = 0  # papers featurised for the fits (0: no fit)
    features_seconds: float = 0.0
    terms: int = 0  # words in the related-papers statistics, when refreshed
    terms_seconds: float = 0.0
    related: int = 0  # papers given their related papers, when refreshed
    related_seconds: float = 0.0


def positive_ids(db: sqlite_utils.Database, profile: str) -> list[str]:
    """The profile's positives, sorted."""
    if profile == PICKS:
        sql, args = "select distinct papers_id from picks order by 1", []
    else:
        sql = "select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id where t.name = ? order by 1"
        args = [profile]
    return [r[0] for r in db.execute(sql, args)]


def check_profiles(db: sqlite_utils.Database, profiles: Iterable[str]) -> None:
    """UsageError for a profile that is neither `picks` nor a tag of the database."""
    for profile in profiles:
        if profile != PICKS and not db.execute("select 1 from tags where name = ?", [profile]).fetchone():
            raise UsageError(f"no tag {profile!r} in the database (a profile is a tag, or {PICKS})")


def rank(db: sqlite_utils.Database, profiles: Sequence[str], topic_tags: Sequence[str] = (), n_jobs: int = 2) -> RankReport:
    """`papertrack rank`: fit every profile on the whole database and score every paper;
    recompute every paper's related papers and the words of the look-up for papers stored later."""
    from papertrack.rank import neighbours

    report = _run(db, profiles, topic_tags, n_jobs, refit_all=True)
    t0 = time.perf_counter()
    with transaction(db):
        report.terms = refresh_terms(db.conn)
    report.terms_seconds = time.perf_counter() - t0
    found = neighbours.refresh(db, topic_tags, n_jobs)
    report.related, report.related_seconds = found.papers, found.seconds
    return report


def update(
    db: sqlite_utils.Database, profiles: Sequence[str], topic_tags: Sequence[str] = (), n_jobs: int = 2
) -> RankReport:
    """After a harvest or an import: refit the profiles whose positives changed (or that
    were never fitted), and score the papers that have no score yet with the stored model."""
    return _run(db, profiles, topic_tags, n_jobs, refit_all=False)


def _run(
    db: sqlite_utils.Database, profiles: Sequence[str], topic_tags: Sequence[str], n_jobs: int, refit_all: bool
) -> RankReport:
    reports: dict[str, ProfileReport] = {}
    refit: list[tuple[str, list[str], str]] = []
    papers = db.execute("select count(*) from papers").fetchone()[0] if profiles else 0
    for profile in dict.fromkeys(profiles):
        ids = positive_ids(db, profile)
        reports[profile] = ProfileReport(profile, len(ids))
        if len(ids) < MIN_POSITIVES or len(ids) >= papers:
            reports[profile].note = (
                f"a profile needs at least {MIN_POSITIVES} positives; nothing scored"
                if len(ids) < MIN_POSITIVES
                else "every paper is a positive: nothing to tell apart; nothing scored"
            )
            with transaction(db):
                db.execute("delete from scores where profile = ?", [profile])
                db.execute("delete from rank_models where profile = ?", [profile])
            continue
        stored = db.execute("select positives_digest, settings from rank_models where profile = ?", [profile]).fetchone()
        digest = _digest(ids)
        if refit_all or stored is None or stored[0] != digest or not _current(stored[1]):
            refit.append((profile, ids, digest))
        else:
            t0 = time.perf_counter()
            reports[profile].scored = _score_new(db, profile)
            reports[profile].seconds = time.perf_counter() - t0
    result = RankReport(list(reports.values()))
    if refit:
        from papertrack.rank.features import Featurizer, featurize_db, read_batch
        from papertrack.rank.model import fit, own_tag_removed

        t0 = time.perf_counter()
        shared = Featurizer((), topic_tags)
        X, ids = featurize_db(shared, db.conn, n_jobs)
        result.papers, result.features_seconds = len(ids), time.perf_counter() - t0
        row = {pid: i for i, pid in enumerate(ids)}
        for profile, positives, digest in refit:
            t0 = time.perf_counter()
            batch = read_batch(db.conn, positives)
            rows = [row[pid] for pid in batch.ids]
            model = fit(profile, shared, X, rows, batch)
            with own_tag_removed(X, rows, batch, model.feat):
                scores, whys = model.scores(X), model.why(X)
            with transaction(db):
                db.execute("delete from scores where profile = ?", [profile])
                _write_scores(db, profile, ids, scores, whys)
                db.execute(
                    "insert or replace into rank_models (profile, fitted, positives, positives_digest, papers, settings, model) "
                    "values (?, ?, ?, ?, ?, ?, ?)",
                    [profile, now_iso(), len(positives), digest, len(ids), model.settings(), model.to_bytes()],
                )
            reports[profile].refitted, reports[profile].scored = True, len(ids)
            reports[profile].seconds = time.perf_counter() - t0
    return result


def _score_new(db: sqlite_utils.Database, profile: str) -> int:
    """Score the papers without a score for `profile` with its stored model."""
    ids = [
        r[0]
        for r in db.execute(
            "select id from papers p where not exists (select 1 from scores s where s.papers_id = p.id and s.profile = ?)",
            [profile],
        )
    ]
    if not ids:
        return 0
    from papertrack.rank.features import read_batch
    from papertrack.rank.model import ProfileModel

    blob, settings = db.execute("select model, settings from rank_models where profile = ?", [profile]).fetchone()
    model = ProfileModel.from_bytes(profile, blob, settings)
    for start in range(0, len(ids), CHUNK):
        batch = read_batch(db.conn, ids[start : start + CHUNK])
        X = model.feat.transform(batch)
        with transaction(db):
            _write_scores(db, profile, batch.ids, model.scores(X), model.why(X))
    return len(ids)


def _write_scores(
    db: sqlite_utils.Database, profile: str, ids: Sequence[str], scores: Iterable[float], whys: Sequence[list[str]]
) -> None:
    db.conn.executemany(
        "insert or replace into scores (papers_id, profile, score, why) values (?, ?, ?, ?)",
        ((pid, profile, round(float(s), 4), json.dumps(w)) for pid, s, w in zip(ids, scores, whys)),
    )


def _current(settings: str | None) -> bool:
    """Whether a stored model was fitted with today's features (else it is refitted)."""
    stored = json.loads(settings or "{}")
    return all(stored.get(k) == v for k, v in SETTINGS.items())


def _digest(ids: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(ids).encode("utf-8")).hexdigest()
