"""Which arXiv OAI-PMH sets a saved query lives in, from its `cat:` restrictions.

arXiv's sets are its subject groups (`cs`, `stat`, `math`, `physics`, ...), their
archives (`cs:cs`, `physics:hep-th`) and categories (`cs:cs:LG`). A query is *confined* to
some categories when every paper it matches must carry one of them: `cat:cs.LG` is;
`A AND (cat:cs.LG OR cat:stat.ML)` is (to cs.LG or stat.ML); `ti:pruning OR cat:cs.LG`
is not (a pruning paper in any category matches). A confined query's papers all lie in
the groups of those categories, so listing those groups finds every one of them; a daily
run lists each group once for all the queries in it. Groups rather than categories:
a paper cross-listed in five categories is listed once, and a handful of groups keeps
the request count low.
"""

from __future__ import annotations

from papertrack.sources.arxiv_query import Node, Not, Op, parse

GROUPS = ("cs", "econ", "eess", "math", "physics", "q-bio", "q-fin", "stat")
PHYSICS = (
    "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph",
    "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph",
)  # fmt: skip
ARCHIVES = {**{g: g for g in GROUPS if g != "physics"}, **{a: "physics" for a in PHYSICS}}


def group_of(category: str) -> str | None:
    """The set (subject group) of an arXiv category: cs.LG -> cs, hep-th -> physics."""
    return ARCHIVES.get(category.split(".")[0])


def groups_of_pattern(value: str) -> frozenset[str] | None:
    """The groups a `cat:` value can match: exact (cs.LG), or a prefix ending in `*`
    (cs.*, q-*, hep-*); None when it names no known archive."""
    if not value.endswith("*"):
        group = group_of(value)
        return frozenset({group}) if group else None
    prefix = value[:-1]
    archive, dot, _ = prefix.partition(".")
    if dot:
        group = ARCHIVES.get(archive)
        return frozenset({group}) if group else None
    found = frozenset(g for a, g in ARCHIVES.items() if a.startswith(prefix))
    return found or None


def confined(node: Node) -> frozenset[str] | None:
    """Groups every match of `node` lies in, or None if a match can lie anywhere."""
    if isinstance(node, Not):
        return None
    if isinstance(node, Op):
        left = confined(node.left)
        if node.op == "ANDNOT":
            return left
        right = confined(node.right)
        if node.op == "OR":
            return None if left is None or right is None else left | right
        if left is None or right is None:
            return left if right is None else right
        return min(left, right, key=lambda s: (len(s), sorted(s)))  # either bounds an AND: the smaller
    if node.field == "cat":
        return groups_of_pattern(node.value)
    return None


def query_sets(query: str) -> list[str] | None:
    """The OAI-PMH sets (groups) a saved query's papers lie in, or None if it is not confined."""
    found = confined(parse(query))
    return sorted(found) if found else None
