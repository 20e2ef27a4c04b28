"""The taxonomy: tags given by phrases or patterns in title and abstract, with evidence.

This runs on every harvested paper, so it is built for speed:

* **Smart case** (as in ripgrep): a pattern written in lower case ignores case and runs,
  without `re.IGNORECASE` (several times slower), on the lower-cased text; a pattern with a
  capital letter (`NAS-Bench`) matches case exactly, on the original text.
* **Gates.** Most papers match no rule. A pattern's syntax tree tells which literal strings
  any match contains: `quantiz\\w*\\W+(?:\\w+\\W+){0,5}?(?:deep|neural)` needs "quantiz"
  and one of "deep", "neural". A tag's regex runs only when the lower-cased text passes
  such a gate for one of its patterns: substring tests cost a fraction of a regex search,
  and the first test of every gate is shared by all the rules that use it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from re import _constants as sre  # the parser's opcodes (re internals, stable since 3.11)
from re import _parser
from typing import Iterable

from ..config import TaxonomyRule

EVIDENCE_CHARS = 100
MAX_ALTERNATIVES = 16  # strings a run of literals may multiply into before it is cut
MIN_GATE_CHARS = 3  # shorter strings are in nearly every abstract: no use as a gate
SHARED_FRACTION = 0.65  # a common root must keep this much of the strings it replaces
_ESCAPE = re.compile(r"\\.")


Gate = tuple[frozenset[str], ...]  # clauses: the text contains one string of each


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
        gates = _shared_first(
            {(i, key, p): _gate(p) for i, r in enumerate(rules) for key in ("include", "title") for p in getattr(r, key)}
        )
        self.rules = [
            _Rule(
                r.tag,
                _patterns(r.include, [gates[(i, "include", p)] for p in r.include]),
                _patterns(r.title, [gates[(i, "title", p)] for p in r.title]),
                _patterns(r.exclude),
            )
            for i, r in enumerate(rules)
        ]
        self._text_probe = _Probe([r.include for r in self.rules])
        self._title_probe = _Probe([r.title for r in self.rules])

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def tags(self) -> list[str]:
        return [r.tag for r in self.rules]

    def match(self, title: str, abstract: str) -> dict[str, str]:
        title, abstract = title or "", abstract or ""
        low_title, low_abstract = title.lower(), abstract.lower()
        low_text = f"{low_title}\n{low_abstract}"
        in_text, in_title = self._text_probe.present(low_text), self._title_probe.present(low_title)
        if not in_text and not in_title and not self._text_probe.always and not self._title_probe.always:
            return {}
        hits: dict[str, str] = {}
        for rule in self.rules:
            found = None
            if rule.title and rule.title.may_match(low_title, in_title):
                found = rule.title.search(title, low_title)
            if not found and rule.include and rule.include.may_match(low_text, in_text):
                found = rule.include.search(title, low_title) or rule.include.search(abstract, low_abstract)
            if found and not (
                rule.exclude and (rule.exclude.search(title, low_title) or rule.exclude.search(abstract, low_abstract))
            ):
                hits[rule.tag] = " ".join(found.split())[:EVIDENCE_CHARS]
        return hits


class _Probe:
    """Tests the first strings of all gates against a text, cheaply: strings containing
    another one ("pruning" contains "prun") are tested only when that one is present, so a
    text that matches nothing costs one test per *root*. Two roots that share most of a
    substring (" bit" and "-bit") get it as a common root."""

    def __init__(self, patterns: list[_Patterns | None]):
        self.always = any(p is not None and p.gates is None for p in patterns)
        probes = {s for p in patterns if p and p.gates for gate in p.gates for s in gate[0]}
        while True:
            roots = sorted(s for s in probes if not any(o != s and o in s for o in probes))
            shared = {c for i, a in enumerate(roots) for b in roots[i + 1 :] for c in [_mergeable(a, b)] if c}
            if not shared:
                break
            probes.add(max(shared, key=len))
        self.roots = tuple(roots)
        # root -> the longer strings containing it, each with all the roots it contains
        self.dependents = {
            r: tuple((s, tuple(o for o in roots if o in s)) for s in sorted(probes) if s != r and r in s)
            for r in roots
        }

    def present(self, text: str) -> set[str]:
        found = {r for r in self.roots if r in text}
        for r in list(found):
            for s, parts in self.dependents[r]:
                if s not in found and found.issuperset(parts) and s in text:
                    found.add(s)
        return found


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
    firsts = frozenset(s for gate in gates for s in gate[0])  # type: ignore[index]
    return _Patterns(_union(lower), _union(exact), tuple(gates), firsts)  # type: ignore[arg-type]


def _covered(s: str, others: set[str]) -> bool:
    """Whether testing `s` costs no extra test on a text lacking all of `others`: it
    contains one of them, or shares a common root with one (see `_Probe`)."""
    return any(o in s or (s not in o and _mergeable(s, o)) for o in others)


def _mergeable(a: str, b: str) -> str:
    """The common root two probe strings share, or ""."""
    c = _common_substring((a, b))
    return c if len(c) >= MIN_GATE_CHARS and len(c) >= SHARED_FRACTION * min(len(a), len(b)) else ""


def _shared_first(gates: dict) -> dict:
    r"""Reorder clauses so that gates test first what other gates test first anyway.

    A gate's first clause is what every text is tested for; when another of its clauses
    only has strings that contain some other gate's first string ("distill" for the
    clause {"distill"} of `distill\w* ... knowledge`, whose most selective clause is
    {"knowledge"}), leading with that clause saves a test on every paper.
    """
    gates = dict(gates)
    for _ in range(3):
        changed = False
        for key, gate in gates.items():
            if not gate or len(gate) < 2:
                continue
            others = {s for k, g in gates.items() if k != key and g for s in g[0]}
            if all(_covered(s, others) for s in gate[0]):
                continue  # already shared
            for n, clause in enumerate(gate[1:], 1):
                if all(_covered(s, others) for s in clause):
                    gates[key] = (clause, *gate[:n], *gate[n + 1 :])
                    changed = True
                    break
        if not changed:
            break
    return gates


def _union(patterns: list[str]) -> re.Pattern | None:
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b")


def _gate(pattern: str) -> Gate | None:
    """The clauses every match of `pattern` satisfies, most selective first; None if none."""
    try:
        clauses = _clauses(list(_parser.parse(pattern)))
    except Exception:  # an unusual construct: no gate, the regex always runs
        return None
    clauses = [_simplify(c) for c in clauses if min(map(len, c)) >= MIN_GATE_CHARS]
    if not clauses:
        return None
    return tuple(sorted(set(clauses), key=_selectivity, reverse=True))


def _simplify(clause: frozenset[str]) -> frozenset[str]:
    """Lower-case; many alternatives sharing a long substring become that substring."""
    clause = frozenset(s.lower() for s in clause)
    if len(clause) > 2:
        common = _common_substring(clause)
        if len(common) >= MIN_GATE_CHARS + 1:
            return frozenset([common])
    # "quantiz" already covers "quantization"
    return frozenset(s for s in clause if not any(o != s and o in s for o in clause))


def _common_substring(strings: Iterable[str]) -> str:
    """The longest string contained in all of `strings`."""
    shortest, *rest = sorted(strings, key=len)
    best = ""
    for i in range(len(shortest)):
        for j in range(i + len(best) + 1, len(shortest) + 1):
            if not all(shortest[i:j] in s for s in rest):
                break
            best = shortest[i:j]
    return best


def _clauses(items: list) -> list[frozenset[str]]:
    """What any match of this sequence contains: sets of literals, one string of each.

    Consecutive literals form a run; a small character class (`[- ]`) or a branch of plain
    words (`(?:e|ed|ing)`) multiplies the run into alternatives, so `fixed[- ]point` gives
    {"fixed-point", "fixed point"} rather than the common word "point". Optional parts
    give nothing; a branch gives the union of its alternatives' best clauses.
    """
    clauses: list[frozenset[str]] = []

    def flush(run: set[str]) -> None:
        if run != {""} and all(run):
            clauses.append(frozenset(run))

    run = {""}
    for op, av in items:
        options = _plain_options(op, av)
        if options is not None and len(run) * len(options) <= MAX_ALTERNATIVES:
            run = {r + o for r in run for o in options}
            continue
        flush(run)
        run = {""}
        if op is sre.SUBPATTERN:
            clauses += _clauses(list(av[3]))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            clauses += _clauses(list(av[2]))
        elif op is sre.BRANCH:
            best = [max(c, key=_selectivity, default=None) for c in (_clauses(list(a)) for a in av[1])]
            if all(best):
                clauses.append(frozenset().union(*best))  # type: ignore[arg-type]
    flush(run)
    return clauses


def _plain_options(op, av) -> list[str] | None:
    """The strings a literal, a small class of literals or a branch of plain words matches."""
    if op is sre.LITERAL:
        return [chr(av)]
    if op is sre.IN and len(av) <= 4 and all(o is sre.LITERAL for o, _ in av):
        return sorted({chr(c) for _, c in av})
    if op is sre.BRANCH and all(all(o is sre.LITERAL for o, _ in alt) for alt in av[1]):
        return sorted({"".join(chr(c) for _, c in alt) for alt in av[1]})
    return None


def _selectivity(literals: frozenset[str]) -> float:
    """Longer strings are rarer; each alternative makes a set more likely to occur."""
    return min(map(len, literals)) - math.log2(len(literals))
