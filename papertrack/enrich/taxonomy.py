"""The taxonomy: tags given by phrases or patterns in title and abstract, with evidence.

This runs on every harvested paper, so it is built for speed:

* **Smart case** (as in ripgrep): a pattern written in lower case ignores case and runs,
  without `re.IGNORECASE` (several times slower), on the lower-cased text; a pattern with a
  capital letter (`NAS-Bench`) matches case exactly, on the original text.
* **Gates** (gates.py). Most papers match no rule. A pattern's syntax tree tells which
  literal strings any match contains; a tag's regex runs only when the lower-cased text
  contains them, which one scan of its word starts tells for all tags at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from papertrack.enrich.patterns import Gate, Probe, gate, shared_first

EVIDENCE_CHARS = 100
_ESCAPE = re.compile(r"\\.")


@dataclass(frozen=True)
class TaxonomyRule:
    """One entry of `taxonomy:`: a tag, the patterns that give it (in title or abstract, or
    `title` ones in the title only) and those that veto it."""

    tag: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    line: int | None = None
    title: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Patterns:
    """One list of patterns, split by case: `lower` runs on lower-cased text, `exact` on the
    original. `gates` has one entry per pattern, or is None when some pattern has no gate
    (say, a bare `\\w+`) and the regexes must always run."""

    lower: re.Pattern | None
    exact: re.Pattern | None
    gates: tuple[Gate, ...] | None
    firsts: frozenset[str] = frozenset()  # every gate's first strings, for a quick "no"

    def search(self, text: str, lowered: str) -> str | None:
        """The text of the first match in `text` (`lowered` is `text.lower()`)."""
        m = self.lower.search(lowered) if self.lower else None
        if m:  # quote the original when lower() kept every offset
            return text[m.start() : m.end()] if len(lowered) == len(text) else m.group(0)
        m = self.exact.search(text) if self.exact else None
        return m.group(0) if m else None

    def may_match(self, lowered: str, present: set[str]) -> bool:
        """Whether some pattern's gate passes; `present` holds the first strings found."""
        if self.gates is None:
            return True
        if self.firsts.isdisjoint(present):
            return False
        return any(
            not gate[0].isdisjoint(present) and all(any(s in lowered for s in clause) for clause in gate[1:])
            for gate in self.gates
        )


@dataclass(frozen=True, slots=True)
class _Rule:
    tag: str
    include: _Patterns | None  # title or abstract
    title: _Patterns | None  # title only
    exclude: _Patterns | None  # anywhere: vetoes the tag


class Taxonomy:
    """Compiled taxonomy rules; `match(title, abstract)` returns {tag: the text that matched}.

    Title and abstract are searched separately (a match never spans the two), the title
    first, so the title's phrase is the evidence when both match.
    """

    def __init__(self, rules: Iterable[TaxonomyRule] = ()):
        rules = list(rules)
        found = shared_first(
            {(i, key, p): gate(p) for i, r in enumerate(rules) for key in ("include", "title") for p in getattr(r, key)}
        )
        gates = {k: (f[0] if f else None) for k, f in found.items()}
        self.rules = [
            _Rule(
                r.tag,
                _patterns(r.include, [gates[(i, "include", p)] for p in r.include]),
                _patterns(r.title, [gates[(i, "title", p)] for p in r.title]),
                _patterns(r.exclude),
            )
            for i, r in enumerate(rules)
        ]
        # one probe for all: a title-only gate's strings are in the title if in title + abstract
        self._probe = _probe(list(found.values()))
        # first string -> the rules it may fire; rules without gates are always candidates
        self._by_first: dict[str, set[int]] = {}
        self._always: set[int] = set()
        for i, r in enumerate(self.rules):
            for patterns in (r.include, r.title):
                if patterns is not None and patterns.gates is None:
                    self._always.add(i)
                for first in patterns.firsts if patterns is not None else ():
                    self._by_first.setdefault(first, set()).add(i)

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def tags(self) -> list[str]:
        return [r.tag for r in self.rules]

    def match(self, title: str, abstract: str) -> dict[str, str]:
        title, abstract = title or "", abstract or ""
        low_title, low_abstract = title.lower(), abstract.lower()
        low_text = f" {low_title}\n{low_abstract}"  # every word preceded by a non-word character
        present = self._probe.present(low_text)
        if not present and not self._always:
            return {}
        hits: dict[str, str] = {}
        for rule in self._candidates(present):
            found = None
            if rule.title and rule.title.may_match(low_title, present):
                found = rule.title.search(title, low_title)
            if not found and rule.include and rule.include.may_match(low_text, present):
                found = rule.include.search(title, low_title) or rule.include.search(abstract, low_abstract)
            if found and not (
                rule.exclude and (rule.exclude.search(title, low_title) or rule.exclude.search(abstract, low_abstract))
            ):
                hits[rule.tag] = " ".join(found.split())[:EVIDENCE_CHARS]
        return hits

    def _candidates(self, present: set[str]) -> list[_Rule]:
        """The rules some found string may fire, in rule order."""
        ids = set(self._always)
        for s in present:
            ids |= self._by_first.get(s, set())
        return [self.rules[i] for i in sorted(ids)]


def is_case_sensitive(pattern: str) -> bool:
    """Smart case: a capital letter outside escape sequences (`\\W`, `\\S`) makes a pattern exact."""
    return any(c.isupper() for c in _ESCAPE.sub("", pattern))


def _patterns(patterns: Iterable[str], gates: list[Gate | None] | None = None) -> _Patterns | None:
    patterns = list(patterns)
    if not patterns:
        return None
    exact = [p for p in patterns if is_case_sensitive(p)]
    lower = [p for p in patterns if not is_case_sensitive(p)]
    if gates is None or None in gates:
        return _Patterns(_union(lower), _union(exact), None)
    firsts = frozenset(s for g in gates for s in g[0])  # type: ignore[index]
    return _Patterns(_union(lower), _union(exact), tuple(gates), firsts)  # type: ignore[arg-type]


def _union(patterns: list[str]) -> re.Pattern | None:
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b")


def _probe(found: list[tuple[Gate, frozenset[str]] | None]) -> Probe:
    """A probe for the first clauses of these gates; a string starts words only if it does
    in every gate that leads with it."""
    firsts = {s for f in found if f for s in f[0][0]}
    initial = {s for s in firsts if all(s in f[1] for f in found if f and s in f[0][0])}
    return Probe(firsts, initial)
