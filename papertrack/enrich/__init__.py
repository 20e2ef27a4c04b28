"""What papertrack derives from a paper's own text (pure functions, no I/O): the taxonomy
tags with evidence (`taxonomy`, made fast by `patterns`), the summary, the venue (rules as
data in venues.yaml) and the code link. `derive` computes them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from papertrack.enrich.code_links import code_url
from papertrack.enrich.summary import summarize
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.enrich.venue import venue_from
from papertrack.models import Paper


@dataclass(slots=True)
class Derived:
    summary: str | None
    venue: str | None
    venue_type: str | None
    code_url: str | None
    tags: dict[str, str] = field(default_factory=dict)  # tag -> evidence
    volume: str | None = None
    pages: str | None = None


def derive(paper: Paper, taxonomy: Taxonomy | None = None) -> Derived:
    """Everything computed from the paper's text at save time (pure, no I/O)."""
    venue = venue_from(paper.comment, paper.journal_ref)
    return Derived(
        summary=summarize(paper.abstract, collapsed=True) or None,
        venue=venue.label,
        venue_type=venue.type,
        code_url=code_url(paper.abstract, paper.comment),
        tags=taxonomy.match(paper.title, paper.abstract) if taxonomy else {},
        volume=venue.volume,
        pages=venue.pages,
    )
