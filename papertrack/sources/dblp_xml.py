"""dblp's XML dump (dblp.xml.gz, several GB uncompressed), streamed record by record.

People download it in a browser since dblp shows scripts a bot check
(https://dblp.org/xml/): `dblp.xml.gz` and, beside it, the `dblp.dtd` it names, which
declares the entities its text uses (`&uuml;`, `&eacute;` ...). lxml's `iterparse` reads
it with that DTD (and nothing else: no network, no other file), one record element at a
time, each cleared once read, so memory stays flat. A record comes out in dblp's JSON
`info` shape (`dblp.page_of` reads it) together with what a dblp query asks of it: its
table of contents (`url` db/conf/cvpr/cvpr2020.html#... is toc db/conf/cvpr/cvpr2020.bht),
venue, year and title. A file that is a bot-check page, not the dump, says so.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from papertrack.errors import UsageError
from papertrack.sources.botcheck import bot_check

TYPES = {
    "inproceedings": "Conference and Workshop Papers",
    "article": "Journal Articles",
    "proceedings": "Editorship",
    "book": "Books and Theses",
    "phdthesis": "Books and Theses",
    "mastersthesis": "Books and Theses",
    "incollection": "Parts in Books or Collections",
    "data": "Data and Artifacts",
}
INFORMAL = "Informal and Other Publications"  # an article of publtype informal (CoRR)
_DOCTYPE = re.compile(rb'<!DOCTYPE\s+dblp\s+SYSTEM\s+"([^"]+)"')
_TOC = re.compile(r"^(db/.+)\.html(?:#.*)?$")


class DumpRecord:
    """One publication of the dump: what a dblp query matches on (toc, venue, year,
    title; all but the toc read only when asked), and `info()`, the whole record. Both
    while the loop over `read_dump` is on it: the element is cleared afterwards."""

    __slots__ = ("element", "toc")

    def __init__(self, element: Any):
        self.element = element
        toc = _TOC.match(element.findtext("url") or "")
        self.toc = f"{toc.group(1)}.bht" if toc else None

    @property
    def venue(self) -> str | None:
        return self.element.findtext("booktitle") or self.element.findtext("journal") or None

    @property
    def year(self) -> int | None:
        year = self.element.findtext("year") or ""
        return int(year) if year.isdigit() else None

    @property
    def title(self) -> str:
        return _text(self.element.find("title"))

    def info(self) -> dict[str, Any]:
        """The record in dblp's JSON `info` shape."""
        element = self.element
        kind = TYPES[element.tag]
        if element.tag == "article" and element.get("publtype") == "informal":
            kind = INFORMAL
        links = [_text(e) for e in element.iterfind("ee")]
        return {
            "key": element.get("key"),
            "title": self.title,
            "authors": {"author": [_text(a) for a in element.iterfind("author")]},
            "venue": self.venue,
            "year": element.findtext("year") or "",
            "type": kind,
            "ee": links,
            "doi": next((e.split("doi.org/", 1)[1] for e in links if "doi.org/" in e), ""),
            "volume": element.findtext("volume") or "",
            "pages": element.findtext("pages") or "",
            "url": f"https://dblp.org/rec/{element.get('key')}",
        }


def _text(element: Any) -> str:
    """An element's text, markup inside (<i>, <sub>) read as text, white space collapsed."""
    if element is None:
        return ""
    text = (element.text or "") if len(element) == 0 else "".join(element.itertext())
    return " ".join(text.split())


class _OnlyTheDtd(etree.Resolver):
    """Resolve the dump's own DTD; every other external reference resolves to nothing."""

    def __init__(self, dtd: Path):
        super().__init__()
        self.dtd = dtd

    def resolve(self, url: str | None, pubid: str | None, context: Any) -> Any:
        if url and Path(url).resolve() == self.dtd.resolve():
            return self.resolve_filename(str(self.dtd), context)
        return self.resolve_string("", context)


def open_dump(path: str | Path) -> tuple[BinaryIO, Path]:
    """The dump's decompressed stream and the DTD it names, checked: a missing file or DTD,
    a bot-check page saved in its place, or another kind of file is a `UsageError`."""
    path = Path(path)
    try:
        raw = path.open("rb")
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    zipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if zipped else raw
    try:
        head = stream.peek(4096)[:4096]  # GzipFile and BufferedReader both peek without moving
    except (OSError, EOFError, zlib.error) as e:
        raw.close()
        raise UsageError(f"{path}: cannot read compressed data ({e})") from None
    kind = bot_check(head)
    found = _DOCTYPE.search(head)
    if kind or not found:
        raw.close()
        if kind:
            raise UsageError(
                f"{path} is dblp's bot-check page ({kind}), not the dump: download dblp.xml.gz and dblp.dtd "
                "from https://dblp.org/xml/ in a browser"
            )
        raise UsageError(f"{path}: not dblp's XML dump (no <!DOCTYPE dblp SYSTEM ...> at its start)")
    dtd = path.parent / found.group(1).decode("ascii", "replace")
    if not dtd.is_file():
        raw.close()
        raise UsageError(f"{dtd} not found: download it from https://dblp.org/xml/ beside {path.name}")
    return stream, dtd


def read_dump(path: str | Path) -> Iterator[DumpRecord]:
    """Every publication of the dump, streaming (person pages are skipped)."""
    stream, dtd = open_dump(path)
    with stream:
        events = etree.iterparse(
            stream, events=("end",), tag=(*TYPES, "www"), load_dtd=True, resolve_entities=True,
            no_network=True, huge_tree=True,
        )  # fmt: skip
        events.resolvers.add(_OnlyTheDtd(dtd))
        try:
            for _, element in events:
                if element.tag != "www" and element.get("key"):
                    yield DumpRecord(element)
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
        except etree.XMLSyntaxError as e:
            if e.filename and Path(e.filename).resolve() == dtd.resolve():  # the DTD is broken, not the dump
                raise UsageError(f"{dtd}:{e.lineno}: not a well-formed DTD ({e.msg})") from None
            raise UsageError(f"{path}:{e.lineno}: not well-formed dblp XML ({e.msg})") from None
        except (OSError, EOFError, zlib.error) as e:  # truncated, or corrupt (zlib.error is no OSError)
            raise UsageError(f"{path}: cannot read compressed data ({e})") from None
