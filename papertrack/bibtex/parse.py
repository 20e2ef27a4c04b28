"""Reading a .bib file into `BibRecord`s: bibtexparser v2 plus what real files need.

bibtexparser splits the file, resolves `@string` macros and strips enclosing braces; on
top of its stack this module adds `#` concatenation (`booktitle = cvpr # " 2016"`,
a middleware), repeated fields (Zotero and Mendeley repeat `keywords` or `doi`: the first
non-empty value is kept, with a warning) and `crossref` inheritance, decodes LaTeX
(accents, braces, escapes) and stray HTML entities (`&amp;`) to Unicode in titles, names and
venues, and finds arXiv ids and DOIs wherever files put them. A file that is not UTF-8 is
read in the encoding its `% Encoding:` line declares (JabRef writes one), else as
Windows-1252 with a warning. A malformed entry becomes a problem line
`file:line: entry 'key': why`; a `@proceedings` volume is no paper and is left out.
"""

from __future__ import annotations

import codecs
import html
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares import (
    RemoveEnclosingMiddleware,
    ResolveStringReferencesMiddleware,
)
from bibtexparser.middlewares.middleware import BlockMiddleware, LibraryMiddleware
from bibtexparser.middlewares.names import split_multiple_persons_names
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    Field,
    ImplicitComment,
    ParsingFailedBlock,
)

from papertrack.enrich.venue import label_for
from papertrack.errors import ConfigError
from papertrack.models import find_doi, split_arxiv_id
from papertrack.text import latex
from papertrack.text.names import first_last, is_person, name_parts

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # failures are reported per entry instead

# Where files put arXiv ids, in the order they are trusted; fields after `eprint` count
# only when they say "arXiv" (`journal = {arXiv preprint arXiv:1902.09574}`).
ARXIV_FIELDS = ("eprint", "arxiv", "arxivid", "url", "journal", "howpublished", "note", "volume", "booktitle")
_PREPRINT = re.compile(r"\barxiv\b|^\s*corr\s*$|\bpreprint\b", re.IGNORECASE)
_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s]+)")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DECLARED = re.compile(rb"^%\s*Encoding:\s*([\w.:-]+)", re.MULTILINE | re.IGNORECASE)
MONTHS = dict(
    zip(
        "jan feb mar apr may jun jul aug sep oct nov dec".split(),
        "January February March April May June July August September October November December".split(),
    )
)


@dataclass
class BibRecord:
    """One BibTeX entry, decoded: what the importer matches and stores."""

    key: str
    line: int
    entry_type: str
    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    venue: str | None = None
    venue_type: str | None = None
    volume: str | None = None
    pages: str | None = None
    url: str | None = None
    primary_class: str | None = None
    abstract: str = ""


@dataclass
class BibFile:
    """What `read_bibtex` found: records, problems (one line each) and counts."""

    path: str
    records: list[BibRecord]
    problems: list[str]  # one line each: skipped entries, and warnings
    skipped: int  # entries describing a paper that could not be read
    duplicate_keys: int
    not_papers: int = 0  # @proceedings volumes


class ResolveConcatenation(LibraryMiddleware):
    """`a # " b" # {c}` -> `{<a> b c}` with `@string` macros and month names resolved
    (bibtexparser resolves a value that is a single macro, not concatenations)."""

    def transform(self, library: Library) -> Library:
        strings = {k.lower(): _unenclose(s.value) for k, s in library.strings_dict.items()}
        for entry in library.entries:
            for f in entry.fields:
                if isinstance(f.value, str) and "#" in f.value:
                    pieces = _split_concatenation(f.value)
                    if len(pieces) > 1:
                        f.value = "{" + "".join(_resolve(p, strings) for p in pieces) + "}"
        return library


def _split_concatenation(value: str) -> list[str]:
    pieces, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(value):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth == 0 and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif c == "#" and depth == 0 and not quoted:
            pieces.append(value[start:i].strip())
            start = i + 1
    return pieces + [value[start:].strip()]


def _unenclose(value: str) -> str:
    value = value.strip()
    if len(value) > 1 and (value[0], value[-1]) in (("{", "}"), ('"', '"')):
        return value[1:-1]
    return value


def _resolve(piece: str, strings: dict[str, str]) -> str:
    if piece[:1] in '{"' or piece.isdigit():
        return _unenclose(piece)
    return strings.get(piece.lower(), MONTHS.get(piece.lower()[:3], piece))


PARSE_STACK = [ResolveConcatenation(), ResolveStringReferencesMiddleware(), RemoveEnclosingMiddleware()]


class KeepFirstOfRepeatedFields(BlockMiddleware):
    """An entry that repeats a field (`keywords`, `doi`, ...) keeps each field's first
    non-empty value instead of failing; `repeated` collects (line, warning) pairs."""

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True)
        self.repeated: list[tuple[int, str]] = []

    def transform_failed_block(self, failed_block: ParsingFailedBlock, library: Library):
        entry = failed_block.ignore_error_block
        if not isinstance(failed_block, DuplicateFieldKeyBlock) or not isinstance(entry, Entry):
            return failed_block
        kept: dict[str, Field] = {}
        for f in entry.fields:
            first = kept.setdefault(f.key.lower(), f)
            if first is f:
                continue
            if not _unenclose(str(first.value)).strip() and _unenclose(str(f.value)).strip():
                kept[f.key.lower()] = f  # same place in the entry, first non-empty value
            self.repeated.append(
                (
                    (f.start_line or 0) + 1,
                    f"entry '{entry.key}': field '{f.key}' repeated; the first non-empty value is kept",
                )
            )
        entry.fields = list(kept.values())
        return entry


def decode(data: bytes) -> tuple[str, tuple[int, str] | None]:
    """A .bib file's text and at most one (line, warning): UTF-8 when it is, else the
    encoding a `% Encoding: ISO8859_1` line declares (JabRef), else Windows-1252."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        line, byte = data[: e.start].count(b"\n") + 1, data[e.start]
    declared = _DECLARED.search(data)
    name = declared.group(1).decode("ascii") if declared else None
    if name:
        try:
            return data.decode(codecs.lookup(name.removeprefix("x-")).name), None
        except (LookupError, UnicodeDecodeError):
            pass
    why = f"declares encoding {name!r}, which does not decode it" if name else "has no '% Encoding:' line"
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # five bytes Windows-1252 leaves undefined: Latin-1 takes them
        text = data.decode("latin-1")
    return text, (line, f"not UTF-8 (byte 0x{byte:02x}) and {why}: read as Windows-1252")


def read_bibtex(path: str | Path) -> BibFile:
    """Parse a .bib file into records; raises ConfigError if it cannot be read at all."""
    path = Path(path)
    try:
        text, warning = decode(path.read_bytes())
    except OSError as e:
        raise ConfigError(str(path), None, f"cannot read: {e.strerror}") from None
    repeated = KeepFirstOfRepeatedFields()  # fresh for each file: it collects warnings
    library = bibtexparser.parse_string(text, parse_stack=[repeated, *PARSE_STACK])
    if all(isinstance(b, ImplicitComment) for b in library.blocks) and _NOT_COMMENT.search(text):
        raise ConfigError(
            str(path), None, "no BibTeX entry in it (entries look like @article{key, ...}: export your library as BibTeX)"
        )
    problems: list[tuple[int, str]] = [warning] if warning else []
    problems += repeated.repeated
    skipped = duplicates = not_papers = 0
    entries: list[Entry] = []
    for block in library.blocks:
        if isinstance(block, DuplicateBlockKeyBlock):
            if isinstance(block.ignore_error_block, Entry):
                # imported all the same: the importer decides whether it is the same paper
                duplicates += 1
                entries.append(block.ignore_error_block)
            problems.append((_line(block), f"duplicate key '{block.key}'"))
        elif isinstance(block, ParsingFailedBlock):
            skipped += 1
            key = _KEY.search(block.raw or "")
            why = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
            why = " ".join(why.split()).rstrip(".")
            problems.append((_line(block), f"entry '{key.group(1) if key else '?'}' is malformed ({why}); skipped"))
        elif isinstance(block, Entry):
            entries.append(block)
    by_key = {e.key.lower(): e for e in entries}
    containers = {_fields(e).get("crossref", "").lower() for e in entries} - {""}
    records = []
    for entry in entries:
        if entry.key.lower() in containers:
            continue  # a proceedings volume other entries inherit from, not a paper
        fields = _fields(entry)
        parent = by_key.get(fields.get("crossref", "").lower())
        if parent is not None:
            inherited = _fields(parent)
            inherited.setdefault("booktitle", inherited.get("title", ""))
            fields = {**{k: v for k, v in inherited.items() if k not in ("title", "author", "crossref")}, **fields}
        record = to_record(entry.key, _line(entry), entry.entry_type.lower(), fields)
        if entry.entry_type.lower() == "proceedings":
            not_papers += 1
            problems.append((_line(entry), f"entry '{entry.key}' is a @proceedings volume, not a paper; left out"))
        elif record.title:
            records.append(record)
        else:
            skipped += 1
            problems.append((_line(entry), f"entry '{entry.key}' has no title; skipped"))
    return BibFile(
        str(path),
        records,
        [f"{path}:{line}: {text}" for line, text in sorted(problems)],
        skipped,
        duplicates,
        not_papers,
    )


_NOT_COMMENT = re.compile(r"^[ \t]*[^\s%]", re.MULTILINE)  # text on a line that is not a % comment


def _line(block) -> int:
    return (block.start_line or 0) + 1  # bibtexparser counts lines from 0


def _fields(entry: Entry) -> dict[str, str]:
    """Lower-cased keys to values; of fields repeated in another case (`DOI`, `doi`) the first non-empty."""
    fields: dict[str, str] = {}
    for f in entry.fields:
        if isinstance(f.value, str) and f.value.strip():
            fields.setdefault(f.key.lower(), f.value.strip())
    return fields


def to_record(key: str, line: int, entry_type: str, fields: dict[str, str]) -> BibRecord:
    """An entry's fields (lowercase keys, enclosing removed) as a decoded record."""
    for name in ("doi", "url", "eprint"):  # verbatim fields, though files escape `_` and `%` in them
        if name in fields:
            fields[name] = re.sub(r"\\([_%&#])", r"\1", re.sub(r"^\\url\{(.*)\}$", r"\1", fields[name]))
    venue, venue_type = _venue(entry_type, fields)
    year = _YEAR.search(fields.get("year") or fields.get("date") or "")
    venue = (venue and label_for(venue, int(year.group(1)) if year else None)) or venue  # our own export
    return BibRecord(
        key=key,
        line=line,
        entry_type=entry_type,
        title=html.unescape(latex.decode(fields.get("title"))),
        authors=_authors(fields.get("author", "")),
        year=int(year.group(1)) if year else None,
        arxiv_id=_arxiv_id(fields),
        doi=find_doi(fields.get("doi", "")) or (find_doi(fields["url"]) if "doi.org/" in fields.get("url", "") else None),
        venue=venue,
        venue_type=venue_type,
        volume=fields.get("volume") if venue_type == "journal" and "arxiv" not in fields.get("volume", "").lower() else None,
        pages=fields.get("pages") if venue else None,
        url=fields.get("url"),
        primary_class=fields.get("primaryclass"),
        abstract=latex.decode(fields.get("abstract")),
    )


def _authors(value: str) -> list[str]:
    names = split_multiple_persons_names(value) if value else []
    return [first_last(name_parts(d)) for d in map(latex.decode, names) if is_person(d)]


def _arxiv_id(fields: dict[str, str]) -> str | None:
    for name in ARXIV_FIELDS:
        value = fields.get(name, "")
        if name == "eprint" and fields.get("archiveprefix", "arxiv").lower() != "arxiv":
            continue
        if name not in ("eprint", "arxiv", "arxivid") and "arxiv" not in value.lower():
            continue
        found = split_arxiv_id(value)
        if found:
            return found[0]
    return None


def _venue(entry_type: str, fields: dict[str, str]) -> tuple[str | None, str | None]:
    """(venue, venue_type) from journal/booktitle; arXiv and CoRR are not venues."""
    order = ("journal", "booktitle") if entry_type == "article" else ("booktitle", "journal")
    for name in order:
        value = html.unescape(latex.decode(fields.get(name)))
        if value and not _PREPRINT.search(value):
            if name == "journal":
                return value, "journal"
            return value, "workshop" if "workshop" in value.lower() else "conference"
    return None, None
