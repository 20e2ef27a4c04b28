"""The taxonomy: tags given by phrases or patterns in title and abstract, with evidence."""
from __future__ import annotations

import re
from typing import Iterable

from ..config import TaxonomyRule


class Taxonomy:
    """Compiled taxonomy rules; `match` returns {tag: the phrase that matched}."""

    def __init__(self, rules: Iterable[TaxonomyRule]):
        self.rules = [
            (r.tag, _union(r.include), _union(r.exclude) if r.exclude else None) for r in rules
        ]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, title: str, abstract: str) -> dict[str, str]:
        text = f"{title}. {abstract}"
        hits: dict[str, str] = {}
        for tag, include, exclude in self.rules:
            m = include.search(text)
            if m and not (exclude and exclude.search(text)):
                hits[tag] = m.group(0)
        return hits


def _union(patterns: Iterable[str]) -> re.Pattern:
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns), re.IGNORECASE)
