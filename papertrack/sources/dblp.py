"""dblp records as `Paper`s: venue labels, links to arXiv, the quirks of dblp's data.

Whatever brings them (the SPARQL endpoint, `dblp_sparql`; the XML dump, `dblp_xml`), a
record arrives as an `info` mapping in the shape of dblp's own JSON (`key`, `title`,
`authors.author`, `venue`, `year`, `type`, `ee`, `doi`, `volume`, `pages`, `url`): a value
may be a string or a list, an author a string or `{"@pid", "text"}`, a title ends in ".",
a homonym carries its number ("Fan Wu 0009"). `record_to_paper` flattens all of that into a
`Paper` with id `dblp:<key>` and a newsletter-style venue label (`CVPR 2020`); `page_of`
makes a page of them, with the arXiv paper each one names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from papertrack.models import Paper, arxiv_id, clean_text, normalize_doi

# DBLP venue (its abbreviation, "(n)" volume suffix removed) -> label. Venues not listed
# keep DBLP's own abbreviation. Journals get their usual short names.
VENUE_LABELS = {
    "NIPS": "NeurIPS",
    "NeurIPS": "NeurIPS",
    "Interspeech": "INTERSPEECH",
    "NAACL-HLT": "NAACL",
    "HLT-NAACL": "NAACL",
    "SysML": "MLSys",
    "ICLR (Poster)": "ICLR",
    "ICLR (Oral)": "ICLR",
    "IEEE Trans. Pattern Anal. Mach. Intell.": "TPAMI",
    "IEEE Trans. Neural Networks Learn. Syst.": "TNNLS",
    "Int. J. Comput. Vis.": "IJCV",
    "J. Mach. Learn. Res.": "JMLR",
    "Trans. Mach. Learn. Res.": "TMLR",
    "IEEE Trans. Image Process.": "TIP",
    "IEEE Trans. Multim.": "TMM",
    "IEEE Trans. Circuits Syst. Video Technol.": "TCSVT",
    "IEEE Trans. Comput. Aided Des. Integr. Circuits Syst.": "TCAD",
    "IEEE Trans. Computers": "TC",
    "IEEE J. Solid State Circuits": "JSSC",
    "IEEE J. Emerg. Sel. Topics Circuits Syst.": "JETCAS",
    "Pattern Recognit.": "Pattern Recognition",
    "Pattern Recognit. Lett.": "Pattern Recognition Letters",
    "Neural Networks": "Neural Networks",
    "Nat. Mach. Intell.": "Nature Machine Intelligence",
    "ACM Comput. Surv.": "ACM Computing Surveys",
    "Proc. IEEE": "Proceedings of the IEEE",
}
TYPES = {"Conference and Workshop Papers": "conference", "Journal Articles": "journal"}
PREPRINT_VENUES = {"CoRR"}
SKIPPED_TYPES = {"Editorship", "Withdrawn Items"}  # the proceedings volume itself, listed in every toc
_VOLUME_SUFFIX = re.compile(r"\s*\(\d+\)$")
_HOMONYM = re.compile(r"\s+\d{4}$")  # "Fan Wu 0009": DBLP's disambiguation number
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)


@dataclass
class DblpPage:
    """One response: `papers` (hits `first`.. of `total`) and the arXiv id each hit links
    to, when DBLP knows one (a CoRR record, or an `ee` at arxiv.org)."""

    first: int
    total: int
    papers: list[Paper]
    url: str
    sent: int = 0
    arxiv_ids: dict[str, str] = field(default_factory=dict)  # paper id -> arXiv id
    preprints: set[str] = field(default_factory=set)  # ids of CoRR (arXiv-only) records


def page_of(infos: list[dict], first: int, total: int, url: str) -> DblpPage:
    """A page of records (`info` mappings) as `Paper`s; Editorship records (the volume
    itself) and records without key or title are skipped."""
    page = DblpPage(first, total, [], url, sent=len(infos))
    for info in infos:
        if info.get("type") in SKIPPED_TYPES or not info.get("key") or not info.get("title"):
            continue
        paper = record_to_paper(info)
        page.papers.append(paper)
        linked = arxiv_link(info)
        if linked:
            page.arxiv_ids[paper.id] = linked
            if _venue_name(info) in PREPRINT_VENUES:
                page.preprints.add(paper.id)
    return page


def record_to_paper(info: dict) -> Paper:
    """One hit's `info` as a `Paper` with id `dblp:<key>` and the venue label DBLP implies."""
    key = info["key"]
    year = _int(info.get("year"))
    venue, venue_type = venue_label(_venue_name(info), info.get("type"), year)
    links = [str(e) for e in _as_list(info.get("ee"))]
    doi = normalize_doi(_text(info.get("doi"))) or next(
        filter(None, (normalize_doi(e) for e in links if "doi.org/" in e)), None
    )
    if doi and _ARXIV_DOI.match(doi):
        doi = None  # CoRR's DataCite DOI names the preprint, not a publication
    return Paper(
        id=f"dblp:{key}",
        title=_title(info.get("title")),
        authors=[_author(a) for a in _as_list((info.get("authors") or {}).get("author"))],
        doi=doi,
        url=next((e for e in links if "arxiv.org" not in e), None) or _text(info.get("url")) or None,
        venue=venue,
        venue_type=venue_type,
        volume=_text(info.get("volume")) if venue_type == "journal" else None,
        pages=_text(info.get("pages")) or None,
        year=year,
        dblp_key=key,
    )


def venue_label(name: str | None, dblp_type: str | None, year: int | None) -> tuple[str | None, str | None]:
    """`('CVPR', 'Conference and Workshop Papers', 2020)` -> `('CVPR 2020', 'conference')`.

    CoRR (arXiv) is no venue; books and theses keep their venue with no type.
    """
    if not name or name in PREPRINT_VENUES:
        return None, None
    name = _VOLUME_SUFFIX.sub("", name.strip())
    kind = TYPES.get(dblp_type or "")
    if kind == "conference" and re.search(r"workshop", name, re.IGNORECASE):
        kind = "workshop"
        name = re.sub(r"\s*\((Workshops?)\)$", r" \1", name)  # "ICLR (Workshop)" -> "ICLR Workshop"
    name = re.sub(r"\s*\((Findings)\)$", r" \1", name)  # "ACL (Findings)" -> "ACL Findings"
    label = VENUE_LABELS.get(name, name)
    return (f"{label} {year}" if year else label), kind


def arxiv_link(info: dict) -> str | None:
    """The arXiv id a record points to: an `ee` at arxiv.org, CoRR's arXiv DOI, or CoRR's
    `abs/NNNN.NNNNN` volume."""
    for link in _as_list(info.get("ee")):
        if "arxiv.org/" in str(link):
            found = arxiv_id(str(link))
            if found:
                return found
    m = _ARXIV_DOI.match(_text(info.get("doi")))
    if m:
        return m.group(1)
    if _venue_name(info) in PREPRINT_VENUES:
        volume = _text(info.get("volume"))
        if volume.startswith("abs/"):
            return arxiv_id(volume[4:])
    return None


def _venue_name(info: dict) -> str | None:
    venue = info.get("venue")
    if isinstance(venue, list):  # a record in several venues lists them all; the first is the main one
        venue = venue[0] if venue else None
    return _text(venue) or None


def _author(author: Any) -> str:
    return _HOMONYM.sub("", clean_text(_text(author)))


def _title(title: Any) -> str:
    text = clean_text(_text(title))
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _text(value: Any) -> str:
    """DBLP's value as text: a string, or the `text` of an object such as {"@pid", "text"}."""
    if isinstance(value, dict):
        value = value.get("text", "")
    return "" if value is None else str(value)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
