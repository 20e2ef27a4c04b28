r"""Literal gates for regular expressions: substring tests that rule a regex out cheaply.

Any match of `quantiz\w*\W+(?:\w+\W+){0,5}?(?:deep|neural)` contains "quantiz" and one of
"deep", "neural". `gate()` reads such *clauses* off a pattern's syntax tree, most
selective first, noting which strings always start a word there. A `Probe` tests the
first clauses of many gates against one text: strings that start a word are found by one
regex scan over the word starts, the rest by substring tests, and a string containing
another is tested only when that one is present. The taxonomy (tags.py) and the venue
table (venue.py) run on every harvested paper; this is what keeps them fast.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from re import (  # type: ignore[attr-defined]  # re's private parser and opcodes: untyped, stable since 3.11
    _constants as sre,
)
from re import _parser

Gate = tuple[frozenset[str], ...]  # clauses: the text contains one string of each
MAX_ALTERNATIVES = 16  # strings a run of literals may multiply into before it is cut
MIN_GATE_CHARS = 3  # shorter strings are in nearly every abstract: no use as a gate
SHARED_FRACTION = 0.65  # a common root must keep this much of the strings it replaces
_NON_WORD_CATEGORIES = {sre.CATEGORY_NOT_WORD, sre.CATEGORY_SPACE}


def is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def gate(pattern: str) -> tuple[Gate, frozenset[str]] | None:
    r"""The clauses every match of `pattern` satisfies, most selective first, and the
    strings among them that always start a word; None if there are none.

    `pattern` is searched as `\b(?:pattern)\b` (see tags.py), so its start is a word start."""
    walk = _Walk()
    try:
        clauses, _ = walk.sequence(list(_parser.parse(pattern)), "start")
    except Exception:  # an unusual construct: no gate, the regex always runs
        return None
    simplified = [_simplify(c, walk.initial) for c in clauses if min(map(len, c)) >= MIN_GATE_CHARS]
    if not simplified:
        return None
    initial = {s for clause, starts in simplified for s in clause if s in starts}
    gates = tuple(sorted({c for c, _ in simplified}, key=selectivity, reverse=True))
    return gates, frozenset(initial)


class _Walk:
    """Walks a parsed pattern collecting clauses; `initial[s]` is True while every occurrence
    of literal `s` seen so far is at a word start (right after a non-word character)."""

    def __init__(self) -> None:
        self.initial: dict[str, bool] = {}

    def mark(self, strings: Iterable[str], ctx: str | None) -> None:
        for s in strings:
            starts = ctx == "nonword" or (ctx == "start" and is_word(s[0]))
            self.initial[s] = self.initial.get(s, True) and starts

    def sequence(self, items: list, ctx: str | None) -> tuple[list[frozenset[str]], str | None]:
        r"""Clauses of a sequence entered in context `ctx` ("start": after \b; "nonword": after
        a non-word character; None: unknown), and the context after it.

        Consecutive literals form a run; a small class of literals (`[- ]`) or a branch of
        plain words (`(?:e|ed|ing)`) multiplies the run into alternatives, so `fixed[- ]point`
        gives {"fixed-point", "fixed point"} rather than the common word "point". Optional
        parts give nothing; a branch gives the union of its alternatives' best clauses.
        """
        clauses: list[frozenset[str]] = []
        run, run_ctx = {""}, ctx

        def flush() -> None:
            if run != {""} and all(run):
                clauses.append(frozenset(run))
                self.mark(run, run_ctx)

        for op, av in items:
            options = _plain_options(op, av)
            if options is not None and len(run) * len(options) <= MAX_ALTERNATIVES:
                if run == {""}:
                    run_ctx = ctx
                run = {r + o for r in run for o in options}
                ctx = "nonword" if all(r and not is_word(r[-1]) for r in run) else None
                continue
            flush()
            run = {""}
            if op is sre.SUBPATTERN:
                sub, ctx = self.sequence(list(av[3]), ctx)
                clauses += sub
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
                sub, end = self.sequence(list(av[2]), ctx)
                if av[0] >= 1:
                    clauses += sub
                    ctx = end
                else:
                    ctx = ctx if ctx == end == "nonword" else None
            elif op is sre.BRANCH:
                results = [self.sequence(list(a), ctx) for a in av[1]]
                best = [max(c, key=selectivity, default=None) for c, _ in results]
                if all(best):
                    clauses.append(frozenset().union(*best))  # type: ignore[arg-type]
                ctx = "nonword" if all(end == "nonword" for _, end in results) else None
            elif op is sre.AT:
                ctx = (
                    "start"
                    if av is sre.AT_BOUNDARY
                    else "nonword"
                    if av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
                    else None
                )
            elif op is sre.IN and _non_word_class(av):
                ctx = "nonword"
            elif op in (sre.ASSERT, sre.ASSERT_NOT):
                pass  # zero-width: the context stays
            else:
                ctx = None
        flush()
        return clauses, ctx


def _plain_options(op, av) -> list[str] | None:
    """The strings a literal, a small class of literals or a branch of plain words matches."""
    if op is sre.LITERAL:
        return [chr(av)]
    if op is sre.IN and len(av) <= 4 and all(o is sre.LITERAL for o, _ in av):
        return sorted({chr(c) for _, c in av})
    if op is sre.BRANCH and all(all(o is sre.LITERAL for o, _ in alt) for alt in av[1]):
        return sorted({"".join(chr(c) for _, c in alt) for alt in av[1]})
    return None


def _non_word_class(av) -> bool:
    r"""Whether a character class only matches non-word characters (`\W`, `\s`, `[-/ ]`)."""
    return all(
        (o is sre.LITERAL and not is_word(chr(a))) or (o is sre.CATEGORY and a in _NON_WORD_CATEGORIES) for o, a in av
    )


def selectivity(literals: frozenset[str]) -> float:
    """Longer strings are rarer; each alternative makes a set more likely to occur."""
    return min(map(len, literals)) - math.log2(len(literals))


def _simplify(clause: frozenset[str], initial: dict[str, bool]) -> tuple[frozenset[str], set[str]]:
    """Lower-case; many alternatives sharing a long substring become that substring.
    Returns the clause and those of its strings that always start a word."""
    lowered = {s.lower(): initial.get(s, False) for s in clause}
    if len(lowered) > 2:
        common = common_substring(lowered)
        starts = all(_starts_words(common, s, lowered[s]) for s in lowered)
        # one test instead of many, unless the many could be found by the word-start scan
        if len(common) >= MIN_GATE_CHARS + 1 and (starts or not all(lowered.values())):
            return frozenset([common]), ({common} if starts else set())
    # "quantiz" already covers "quantization"
    kept = frozenset(s for s in lowered if not any(o != s and o in s for o in lowered))
    return kept, {s for s in kept if lowered[s]}


def _starts_words(part: str, s: str, s_starts: bool) -> bool:
    """Whether every occurrence of `part` in `s` starts a word, given whether `s` does."""
    at = s.find(part)
    while at >= 0:
        if not ((at == 0 and s_starts) or (at > 0 and not is_word(s[at - 1]))):
            return False
        at = s.find(part, at + 1)
    return True


def common_substring(strings: Iterable[str]) -> str:
    """The longest string contained in all of `strings`."""
    return _common_substring(tuple(sorted(set(strings), key=lambda s: (len(s), s))))


@lru_cache(maxsize=65536)
def _common_substring(strings: tuple[str, ...]) -> str:
    shortest, *rest = strings
    best = ""
    for i in range(len(shortest)):
        for j in range(i + len(best) + 1, len(shortest) + 1):
            if not all(shortest[i:j] in s for s in rest):
                break
            best = shortest[i:j]
    return best


@lru_cache(maxsize=65536)
def mergeable(a: str, b: str) -> str:
    """The common root two probe strings share, or ""."""
    c = common_substring((a, b))
    return c if len(c) >= MIN_GATE_CHARS and len(c) >= SHARED_FRACTION * min(len(a), len(b)) else ""


def covered(s: str, others: set[str]) -> bool:
    """Whether testing `s` costs no extra test on a text lacking all of `others`: it
    contains one of them, or shares a common root with one (see `Probe`)."""
    return any(o in s or (s not in o and _shares_trigram(s, o) and mergeable(s, o)) for o in others)


def _shares_trigram(a: str, b: str) -> bool:
    """A cheap necessary condition for `mergeable` (its roots have 3 or more characters)."""
    return any(a[i : i + 3] in b for i in range(len(a) - 2))


def shared_first(gates: dict) -> dict:
    r"""Reorder clauses so that gates test first what other gates test first anyway.

    A gate's first clause is what every text is tested for; when another of its clauses
    only has strings that contain some other gate's first string ("distill" for the
    clause {"distill"} of `distill\w* ... knowledge`, whose most selective clause is
    {"knowledge"}), leading with that clause saves a test on every paper.
    """
    gates = dict(gates)
    for _ in range(3):
        changed = False
        for key, found in gates.items():
            if not found or len(found[0]) < 2:
                continue
            clauses, initial = found
            others = {s for k, g in gates.items() if k != key and g for s in g[0][0]}
            if all(covered(s, others) for s in clauses[0]):
                continue  # already shared
            for n, clause in enumerate(clauses[1:], 1):
                if all(covered(s, others) for s in clause):
                    gates[key] = ((clause, *clauses[:n], *clauses[n + 1 :]), initial)
                    changed = True
                    break
        if not changed:
            break
    return gates


def _trie(words: list[str]) -> str:
    """A regex matching any of `words`, factored by common prefixes; where one word is a
    prefix of another, the shorter one is what matches."""
    tree: dict = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        if "" in node:
            return ""
        alternatives = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return emit(tree)


class Probe:
    """Finds which first strings of a set of gates a (lower-cased) text contains.

    Strings containing another ("pruning" contains "prun") are tested only when that one is
    present, so a text that matches nothing costs one test per *root*; two roots sharing
    most of a substring (" bit", "-bit") get it as a common root. Roots that always start a
    word are all found by one scan of the text's word starts; the others by `in`.
    """

    def __init__(self, firsts: Iterable[str], initial: Iterable[str]):
        firsts, initial = set(firsts), set(initial)

        def scannable(x: str) -> str:
            """x's word characters, if they start a word wherever the gates hold them."""
            core = x.strip("".join(c for c in set(x) if not is_word(c)))
            holders = [s for s in firsts if core and core in s]
            return core if holders and all(_starts_words(core, s, s in initial) for s in holders) else ""

        probes = set(firsts)
        while True:
            roots = sorted(s for s in probes if not any(o != s and o in s for o in probes))
            # a common root must not turn two scannable roots into one that needs a test of its own
            shared = {
                c
                for i, a in enumerate(roots)
                for b in roots[i + 1 :]
                if _shares_trigram(a, b)
                for c in [mergeable(a, b)]
                if c and (scannable(c) or not (scannable(a) and scannable(b)))
            }
            if not shared or shared <= probes:
                break
            probes |= shared
        self.roots = tuple(roots)
        # root -> the longer probe strings holding it, with every offset it has in them
        self.dependents = {r: tuple((d, tuple(_offsets(r, d))) for d in sorted(probes) if d != r and r in d) for r in roots}
        # roots that start a word wherever the gates hold them -> found by one scan
        scanned: dict[str, set[str]] = {}
        for r in roots:
            core = scannable(r)
            if core:
                scanned.setdefault(core, set()).add(r)
        self.tested = tuple(r for r in roots if not any(r in rs for rs in scanned.values()))
        cores = sorted(scanned, key=lambda c: (-len(c), c))
        # the scan reports the shortest core at a place; longer cores it begins are checked there
        self.found_by = {
            c: tuple((r, o, r.find(o)) for o in cores if o.startswith(c) for r in sorted(scanned[o])) for c in cores
        }
        self.scans: tuple[re.Pattern, ...] = ()
        if cores:
            words = _trie(cores)
            # Two scans, both fast: after a space (most words; a literal first character lets
            # the regex engine skip ahead), and after any other non-word character. A match
            # consumes its core: safe unless a core could start inside another one.
            overlap = any(
                b.startswith(a[i + 1 :]) or a[i + 1 :].startswith(b)
                for a in cores
                for i, c in enumerate(a)
                if not is_word(c)
                for b in cores
            )
            after = "(?=({}))" if overlap else "({})"
            self.scans = (re.compile(" " + after.format(words)), re.compile("[^a-z0-9_ ]" + after.format(words)))

    def present(self, text: str) -> set[str]:
        """The probe strings `text` holds where a gate could need them."""
        at: dict[str, list[int]] = {}  # scanned root -> where it starts
        for scan in self.scans:
            for m in scan.finditer(text):
                p = m.start(1)
                for r, core, offset in self.found_by[m.group(1)]:
                    if text.startswith(core, p) and (r == core or text.startswith(r, p - offset)):
                        at.setdefault(r, []).append(p - offset)
        found = set(at)
        # dependents: checked where their root stands (a scanned root), else anywhere
        for r in at:
            for d, offsets in self.dependents[r]:
                if d not in found and any(text.startswith(d, p - k) for p in at[r] for k in offsets):
                    found.add(d)
        for r in self.tested:
            if r in text:
                found.add(r)
                found.update(d for d, _ in self.dependents[r] if d in text)
        return found


def _offsets(part: str, s: str) -> Iterable[int]:
    at = s.find(part)
    while at >= 0:
        yield at
        at = s.find(part, at + 1)
