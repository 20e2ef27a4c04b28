"""Load and validate `queries.yaml`: saved queries, the tag taxonomy and the profiles kept ranked.

Every problem is a `ConfigError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from re._parser import parse as _parse_pattern  # type: ignore[import-not-found]  # private, untyped, stable since 3.11
from typing import Any

import yaml

from papertrack.enrich.taxonomy import TaxonomyRule
from papertrack.errors import ConfigError, UsageError
from papertrack.models import parse_day
from papertrack.sources import registry

NAME_RE = re.compile(r"^[a-z0-9-]+$")
QUERY_KEYS = {"name", "source", "query", "tags", "since", "title_filter"}
TAXONOMY_KEYS = {"include", "title", "exclude"}


@dataclass(frozen=True)
class SavedQuery:
    """One entry of `queries:`."""

    name: str
    source: str
    query: str
    tags: tuple[str, ...]
    since: dt.date | None = None
    title_filter: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Config:
    path: str
    queries: tuple[SavedQuery, ...]
    taxonomy: tuple[TaxonomyRule, ...] = field(default=())
    rank: tuple[str, ...] = ()  # profiles (tags, or `picks`) that harvests and imports keep scored

    def select(self, names: list[str] | tuple[str, ...] | None) -> list[SavedQuery]:
        """The named queries (all when `names` is empty), in file order."""
        if not names:
            return list(self.queries)
        known = {q.name: q for q in self.queries}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(self.path, None, f"no query named {unknown[0]!r} (have: {', '.join(known)})")
        return [q for q in self.queries if q.name in set(names)]


# Bounds on the file, checked while it is read: a real queries.yaml is a few KB, a few levels
# deep; beyond these, a crafted file (deep nesting, an alias bomb) is refused before it costs
# recursion or memory.
MAX_BYTES = 1_000_000
MAX_DEPTH = 16  # nested lists and mappings
MAX_NODES = 100_000  # values, with every alias counted as what it expands to


class _TooBig(Exception):
    def __init__(self, line: int, message: str):
        self.line, self.message = line, message


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping, under the key `__line__`,
    and refuses documents beyond MAX_DEPTH and MAX_NODES."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(self.peek_event().start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        sizes: dict[int, int] = {}
        measuring: set[int] = set()  # the nodes being measured: meeting one again is a cycle

        def size(n: yaml.Node) -> int:
            if id(n) in measuring:  # `queries: &a [*a]`: an alias inside its own anchor
                raise _TooBig(n.start_mark.line + 1, "a YAML alias refers to itself")
            if id(n) not in sizes:
                measuring.add(id(n))
                children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else n.value
                sizes[id(n)] = 1 + (sum(size(c) for c in children) if isinstance(children, list) else 0)
                measuring.discard(id(n))
                if sizes[id(n)] > MAX_NODES:
                    raise _TooBig(n.start_mark.line + 1, f"more than {MAX_NODES:,} values (aliases expanded)")
            return sizes[id(n)]

        if node is not None:
            size(node)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A value YAML reads as a date that the calendar lacks (2020-02-30): a YAML error at its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as e:
            problem = f"{node.value!r} is not a date ({e})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_timestamp)


def load_config(path: str | Path) -> Config:
    """Read and validate a queries file; raise `ConfigError` on the first problem."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ConfigError(path, None, f"cannot read file: {e.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(path, None, f"larger than {MAX_BYTES:,} bytes: not a queries file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, raw.count(b"\n", 0, e.start) + 1, "not UTF-8 text") from None
    return parse_config(text, path)


def parse_config(text: str, path: str = "queries.yaml") -> Config:
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except _TooBig as e:
        raise ConfigError(path, e.line, e.message) from None
    except yaml.YAMLError as e:
        # an unclosed quote or bracket is reported at the end of the file; where it opened is more useful
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        mark = getattr(e, "problem_mark", None)
        if "end of stream" in problem and getattr(e, "context_mark", None):
            mark = getattr(e, "context_mark", None)
        context = getattr(e, "context", None)
        message = f"{problem} ({context})" if context else problem
        raise ConfigError(path, mark.line + 1 if mark else None, f"invalid YAML: {message}") from None
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise ConfigError(path, 1, "expected a mapping with a 'queries:' list")
    unknown = set(data) - {"queries", "taxonomy", "rank", "__line__"}
    if unknown:
        raise ConfigError(path, data["__line__"], f"unknown top-level key {sorted(unknown)[0]!r}")
    queries: list[SavedQuery] = []
    for item in data["queries"]:
        query = _query(item, path, data["__line__"])
        if any(q.name == query.name for q in queries):
            raise ConfigError(path, query.line, f"duplicate query name {query.name!r}")
        queries.append(query)
    rank = _rank(data.get("rank"), path, _key_line(text, "rank"))
    return Config(path, tuple(queries), _taxonomy(data.get("taxonomy"), path, _key_line(text, "taxonomy")), rank)


def _key_line(text: str, key: str) -> int | None:
    """The line of a top-level key (the loader records lines of mappings, not of lists)."""
    found = re.search(rf"^{key}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _rank(value: Any, path: str, line: int | None) -> tuple[str, ...]:
    """`rank: [my-library, picks]`: the profiles to keep scored (a single name is a list of one)."""
    if value is None:
        return ()
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ConfigError(path, line, "rank must be a list of profiles (tag names, or picks)")
    return tuple(dict.fromkeys(t.strip() for t in value))


def _query(item: Any, path: str, parent_line: int) -> SavedQuery:
    if not isinstance(item, dict):
        raise ConfigError(path, parent_line, "each query must be a mapping with name, source, query")
    line = item.pop("__line__")
    label = f"query {item['name']!r}" if isinstance(item.get("name"), str) and item["name"] else "query"
    for key in ("name", "source", "query"):
        if not item.get(key):
            raise ConfigError(path, line, f"{label}: missing key {key!r}")
        if not isinstance(item[key], str):
            raise ConfigError(path, line, f"{label}: {key!r} must be text")
    extra = set(item) - QUERY_KEYS
    if extra:
        raise ConfigError(path, line, f"{label}: unknown key {sorted(extra)[0]!r}")
    name = item["name"]
    if not NAME_RE.match(name):
        raise ConfigError(path, line, f"{label}: name must match [a-z0-9-]+")
    kinds = registry.kinds()
    if item["source"] not in kinds:
        raise ConfigError(path, line, f"{label}: unknown source {item['source']!r} (use {' or '.join(kinds)})")
    tags = item.get("tags", [name])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise ConfigError(path, line, f"{label}: tags must be a list of names")
    since = item.get("since")
    if since is not None:
        try:
            if not isinstance(since, dt.date | str):
                raise UsageError("not a date")
            since = parse_day(since, "since")
        except UsageError:
            raise ConfigError(path, line, f"{label}: since must be a date (YYYY-MM-DD)") from None
    try:
        registry.validate(item["source"], item["query"])
    except UsageError as e:
        raise ConfigError(path, line, f"{label}: {e}") from None
    title_filter = item.get("title_filter")
    if title_filter is not None:
        if not isinstance(title_filter, str) or not title_filter:
            raise ConfigError(path, line, f"{label}: title_filter must be one regular expression (a string)")
        _compile(title_filter, path, line, label)
    return SavedQuery(
        name=name,
        source=item["source"],
        query=" ".join(item["query"].split()),
        tags=tuple(t.strip() for t in tags),
        since=since,
        title_filter=title_filter,
        line=line,
    )


def _taxonomy(section: Any, path: str, key_line: int | None) -> tuple[TaxonomyRule, ...]:
    if section is None:
        return ()
    if not isinstance(section, dict):
        raise ConfigError(path, key_line, "taxonomy must map tags to patterns")
    line = section.pop("__line__", None)
    rules = []
    for tag, spec in section.items():
        if isinstance(spec, list):
            spec = {"include": spec, "__line__": line}
        if not isinstance(spec, dict):
            raise ConfigError(path, line, f"taxonomy {tag!r}: expected a list of patterns or include/exclude")
        rule_line = spec.pop("__line__", line)
        extra = set(spec) - TAXONOMY_KEYS
        if extra:
            raise ConfigError(path, rule_line, f"taxonomy {tag!r}: unknown key {sorted(extra)[0]!r}")
        include, title, exclude = (_patterns(spec.get(key), path, rule_line, tag) for key in ("include", "title", "exclude"))
        if not include and not title:
            raise ConfigError(path, rule_line, f"taxonomy {tag!r}: no include patterns")
        rules.append(TaxonomyRule(str(tag), include, exclude, rule_line, title))
    return tuple(rules)


def _patterns(value: Any, path: str, line: int | None, tag: str) -> tuple[str, ...]:
    """A list of regular expressions (a single string is a list of one), each checked."""
    value = [value] if isinstance(value, str) else value or []
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ConfigError(path, line, f"taxonomy {tag!r}: patterns must be a list of strings")
    for pattern in value:
        _compile(pattern, path, line, f"taxonomy {tag!r}")
        if _parse_pattern(pattern).getwidth()[0] == 0:
            raise ConfigError(path, line, f"taxonomy {tag!r}: pattern {pattern!r} matches empty text")
    return tuple(value)


def _compile(pattern: str, path: str, line: int | None, label: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ConfigError(path, line, f"{label}: bad pattern {pattern!r}: {e}") from None
