"""Small dblp.xml dumps in the dump's real layout (records with `key`/`mdate`, the `url`
of their table of contents, `ee` links, entities from dblp.dtd), for tests and benchmarks."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from xml.sax.saxutils import quoteattr

DTD = Path(__file__).parent / "fixtures" / "dblp" / "dblp.dtd"
HEAD = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE dblp SYSTEM "dblp.dtd">\n<dblp>\n'


def element(
    kind: str,
    key: str,
    title: str,
    authors: list[str],
    venue: str = "CVPR",
    year: int = 2020,
    toc: str | None = "db/conf/cvpr/cvpr2020",
    ee: list[str] = (),  # type: ignore[assignment]
    pages: str | None = "1-10",
    publtype: str | None = None,
    volume: str | None = None,
) -> str:
    """One record as dblp.xml writes it; `title` and `authors` are XML (entities allowed)."""
    attrs = f' key={quoteattr(key)} mdate="2024-01-05"' + (f" publtype={quoteattr(publtype)}" if publtype else "")
    venue_tag = "journal" if kind == "article" else "booktitle"
    parts = [f"<author>{a}</author>" for a in authors] + [f"<title>{title}</title>"]
    parts += [f"<pages>{pages}</pages>"] if pages else []
    parts += [f"<year>{year}</year>"]
    parts += [f"<volume>{volume}</volume>"] if volume else []
    parts += [f"<{venue_tag}>{venue}</{venue_tag}>"]
    parts += [f"<ee>{e}</ee>" for e in ee]
    parts += [f"<url>{toc}.html#{key.rsplit('/', 1)[-1]}</url>"] if toc else []
    return f"<{kind}{attrs}>\n" + "\n".join(parts) + f"\n</{kind}>\n"


def write_dump(folder: Path, records: list[str], name: str = "dblp.xml.gz") -> Path:
    """`records` as a gzipped dump in `folder`, with the DTD beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DTD, folder / "dblp.dtd")
    path = folder / name
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write((HEAD + "".join(records) + "</dblp>\n").encode("latin-1"))
    return path
