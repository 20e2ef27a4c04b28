"""Person names between papertrack's "First Last" strings and BibTeX's "von Last, Jr, First".

Splitting follows BibTeX's own rules through bibtexparser's name parser (lowercase words
before the surname are the "von" part: `Laurens van der Maaten`). Two things "First
Last" strings cannot say in BibTeX's grammar are handled here: a trailing suffix
(`John Smith Jr.`) and capitalised particles (`Luc Van Gool`, `Fernando De la Torre`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bibtexparser.middlewares.names import NameParts, parse_single_name_into_parts

SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
# Capitalised particles that belong to the surname when they come between given name and surname.
PARTICLES = {"van", "von", "de", "der", "den", "del", "della", "des", "di", "du", "da", "dos", "la", "le", "ten", "ter"}
ANONYMOUS = {"others", "et al.", "et al", "al."}


def name_parts(name: str) -> NameParts:
    """Split a name given as "First von Last Jr." or "von Last, Jr, First"."""
    name = " ".join(name.split())
    if "," in name:
        return _parse(name)
    tokens = name.split(" ")
    jr = []
    if len(tokens) > 2 and tokens[-1].lower() in SUFFIXES:
        jr = [tokens.pop()]
    parts = _parse(" ".join(tokens))
    parts.jr = parts.jr or jr
    # "Luc Van Gool": BibTeX reads "Van" as a given name; it is part of the surname
    while len(parts.first) > 1 and parts.first[-1].lower() in PARTICLES:
        parts.von.insert(0, parts.first.pop())
    return parts


def _parse(name: str) -> NameParts:
    try:
        return parse_single_name_into_parts(name, strict=False)
    except Exception:  # bibtexparser raises on e.g. a trailing comma; keep the whole name as surname
        return NameParts(last=[name.strip(" ,")])


@lru_cache(maxsize=65536)  # an export names the same prolific authors over and over
def last_first(name: str) -> str:
    """`'Laurens van der Maaten'` -> `'van der Maaten, Laurens'` (BibTeX's comma form)."""
    return name_parts(name).merge_last_name_first


def first_last(parts: NameParts) -> str:
    """How papertrack stores a name: `'Laurens van der Maaten'`, `'John Smith Jr.'`."""
    return parts.merge_first_name_first


@lru_cache(maxsize=65536)
def surname_key(name: str) -> str:
    """The surname (with particles) as ASCII lowercase letters, for citation keys:
    `'Laurens van der Maaten'` -> `'vandermaaten'`, `'Felix Neumärker'` -> `'neumarker'`."""
    parts = name_parts(name)
    return ascii_word(" ".join(parts.von + parts.last))


def ascii_fold(text: str) -> str:
    """Lowercase ASCII: accents folded (`Neumärker` -> `neumarker`), other letters dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def ascii_word(text: str) -> str:
    """`ascii_fold` keeping only a-z and 0-9."""
    return re.sub(r"[^a-z0-9]", "", ascii_fold(text))


def is_person(name: str) -> bool:
    """False for the "and others" / "et al." placeholders BibTeX author lists end with."""
    return bool(name.strip()) and name.strip().lower() not in ANONYMOUS
