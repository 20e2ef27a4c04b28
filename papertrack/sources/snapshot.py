"""arXiv's bulk metadata snapshot (JSON lines): records as `Paper`s.

Fields agree with what the query API gives for the same paper: versionless id, v1 date
as `published`, the last version's date as `updated`, the version number, categories
(primary first) and authors in order from `authors_parsed`.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from ..models import Paper, abs_url, clean_text, pdf_url


def snapshot_date(value: str | None) -> str | None:
    """`'Mon, 2 Apr 2007 19:18:42 GMT'` -> `'2007-04-02T19:18:42Z'`."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S %Z")
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def author_names(record: dict) -> list[str]:
    """Names in order: from `authors_parsed` ([last, first, suffix]) when present."""
    parsed = record.get("authors_parsed")
    if parsed:
        return [clean_text(" ".join(p for p in (a[1], a[0]) if p)) for a in parsed if any(a[:2])]
    return [clean_text(a) for a in re.split(r",|\band\b", record.get("authors") or "") if a.strip()]


def record_to_paper(record: dict) -> Paper:
    """One snapshot record as a `Paper`. Raises KeyError/ValueError on a record without id/title."""
    paper_id = str(record["id"]).strip()
    if not paper_id or not record.get("title"):
        raise ValueError("record has no id or title")
    versions = record.get("versions") or []
    published = snapshot_date(versions[0].get("created")) if versions else None
    updated = snapshot_date(versions[-1].get("created")) if versions else None
    if published is None and record.get("update_date"):
        published = f"{record['update_date']}T00:00:00Z"
    version = re.sub(r"\D", "", versions[-1].get("version", "")) if versions else ""
    categories = (record.get("categories") or "").split()
    return Paper(
        id=paper_id,
        title=clean_text(record["title"]),
        abstract=clean_text(record.get("abstract")),
        authors=author_names(record),
        published=published,
        updated=updated or published,
        version=int(version or 1),
        primary_category=categories[0] if categories else None,
        categories=categories,
        doi=record.get("doi") or None,
        journal_ref=clean_text(record.get("journal-ref")) or None,
        comment=clean_text(record.get("comments")) or None,
        url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        year=int(published[:4]) if published else None,
    )
