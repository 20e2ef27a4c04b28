"""`/browse.atom`: the newest papers of a selection as an Atom 1.0 feed, the way
datasette-atom writes one (the feed's id is its own URL, `updated` is its newest entry's),
built with ElementTree so every value is escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree import ElementTree as ET

from papertrack.models import now_iso
from papertrack.store.browse import Card

ATOM = "http://www.w3.org/2005/Atom"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0


def _text(value: str | None) -> str:
    return _CONTROL.sub("", value or "")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _text(text)
    return element


def atom_feed(
    cards: list[Card],
    *,
    title: str,
    self_url: str,
    html_url: str,
    paper_url: Callable[[Card], str],
    generator: str = "papertrack",
) -> bytes:
    """The feed as UTF-8 XML: one entry per card (id, title, authors, updated, published,
    links to the abstract page and to the paper page, tags as categories, the summary as
    content)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    _add(feed, "updated", max((c.updated or c.published or "" for c in cards), default="") or now_iso())
    _add(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    _add(feed, "link", rel="alternate", href=html_url, type="text/html")
    _add(feed, "generator", generator)
    for card in cards:
        entry = _add(feed, "entry")
        page = paper_url(card)
        _add(entry, "id", card.url or page)
        _add(entry, "title", card.title)
        _add(entry, "updated", card.updated or card.published or now_iso())
        if card.published:
            _add(entry, "published", card.published)
        for name in card.authors:
            _add(_add(entry, "author"), "name", name)
        if card.url:
            _add(entry, "link", rel="alternate", href=card.url, type="text/html")
        _add(entry, "link", rel="related", href=page, type="text/html", title="paper page")
        if card.pdf_url:
            _add(entry, "link", rel="related", href=card.pdf_url, type="application/pdf", title="PDF")
        for tag in card.tags:
            _add(entry, "category", term=tag)
        _add(entry, "content", card.summary or card.title, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
