"""Sources as registered things: one module and one registration each.

A `Source` is one way of asking one service for papers: arXiv's query API, arXiv's
OAI-PMH interface, dblp's SPARQL endpoint, and whatever comes next (OpenReview, an RSS
feed). It says which saved queries it serves (`serves`: their `source:` in queries.yaml)
and how those are checked (`validate`), the settings a user may change (`settings`: the
CLI makes each an option with an environment variable), how its client is built and
which service it talks to (hence which machine-wide endpoint lock), which queries it
takes in a run (`takes`; `priority` orders the sources serving one kind of query), and
how it harvests them (`harvest`: fetch pages, save them, record each query's run).

The built-in sources are modules of `papertrack.ingest` whose `SOURCE` is their
registration (`BUILTIN`); other packages add theirs through the `papertrack.sources`
entry point group, as httpie's plugins and llm's hooks do. They are loaded by name the
first time the registry is asked, so that `config` can validate the queries of every
source while the harvest machinery stays above it. A plugin that cannot be loaded is left
out, and said in one line (`broken`), so that it cannot break the built-in sources.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from papertrack.errors import UsageError
from papertrack.sources.http import USER_AGENT, ServiceClient
from papertrack.sources.locks import Lock

BUILTIN = (
    "papertrack.ingest.arxiv_api:SOURCE",
    "papertrack.ingest.arxiv_oai:SOURCE",
    "papertrack.ingest.dblp_sparql:SOURCE",
)
GROUP = "papertrack.sources"


@dataclass(frozen=True)
class Setting:
    """A value of a source's client a user may change: an option and its environment variable."""

    key: str  # the keyword `Source.client` reads it under
    option: str  # --arxiv-oai-url
    env: str  # PAPERTRACK_ARXIV_OAI_URL
    default: str | float | int
    kind: str  # url, seconds or count
    help: str
    hidden: bool = False  # for tests and debugging
    most: int | None = None  # the largest count accepted


class Source(ABC):
    """One registered source (see the module docstring). Subclasses set the class
    attributes and implement `validate` and `harvest`."""

    name: str  # registry key: arxiv-api, arxiv-oai, dblp-sparql
    via: str  # its word for `papertrack harvest --via`: api, oai, sparql
    serves: str  # the `source:` of the saved queries it runs: arxiv or dblp
    service: str  # who answers (arXiv, dblp): messages, and the endpoint lock's name
    describes: str  # what it is, for messages: "arXiv's OAI-PMH interface"
    settings: tuple[Setting, ...] = ()
    client_class: Callable[..., ServiceClient]  # built with `url`, `lock`, `agent` and the other settings
    needs: tuple[str, ...] = ()  # other sources whose clients its runs use as well
    priority: int = 100  # sources serving the same queries are asked in this order

    @abstractmethod
    def validate(self, query: str) -> None:
        """Raise `UsageError` saying what is wrong with `query`, if anything."""

    def takes(self, query: Any, state: Any, via: str, full: bool) -> bool | str:
        """Whether this source runs `query` in this harvest (`state`: its stored progress);
        a string is the reason it cannot, said once to the user."""
        return True

    def client(self, settings: Mapping[str, Any], lock: Lock | None = None, agent: str = USER_AGENT) -> ServiceClient:
        """The client for this source's endpoint (`client_class`); missing settings take their defaults."""
        values = {s.key: settings.get(s.key, s.default) for s in self.settings}
        return self.client_class(values.pop("url", None), lock=lock, agent=agent, **values)

    @abstractmethod
    def harvest(self, runs: Sequence[Any], clients: Mapping[str, ServiceClient]) -> None:
        """Run these queries' harvests (`ingest.runs.Run`), recording each one's outcome."""


_registry: dict[str, Source] = {}
_loaded = False
_broken: list[str] = []  # what went wrong loading plugins, one line each (`broken`)


def register(source: Source) -> Source:
    """Add a source (a plugin may call this directly); a name is registered once."""
    if source.name in _registry and _registry[source.name] is not source:
        raise ValueError(f"a source named {source.name!r} is registered already")
    _registry[source.name] = source
    return source


def sources() -> dict[str, Source]:
    """Every registered source by name, built-in ones first, loading them on first use."""
    global _loaded
    if not _loaded:
        _loaded = True
        for ref in BUILTIN:
            module, _, attr = ref.partition(":")
            register(getattr(importlib.import_module(module), attr))
        for ep in entry_points(group=GROUP):
            try:
                source = ep.load()
                if not isinstance(source, Source):
                    raise TypeError(f"{type(source).__name__} is not a papertrack Source")
                register(source)
            except Exception as e:  # another package's bug: papertrack goes on without its source
                why = " ".join(f"{type(e).__name__}: {e}".split())
                _broken.append(
                    f'the {GROUP} entry point "{ep.name} = {ep.value}" was not loaded ({why}); its source is left out'
                )
    return _registry


def broken() -> list[str]:
    """One line per `papertrack.sources` entry point that could not be loaded (the CLI shows them)."""
    return list(_broken)


def get(name: str) -> Source:
    try:
        return sources()[name]
    except KeyError:
        raise UsageError(f"no source named {name!r} (have: {', '.join(sources())})") from None


def serving(kind: str) -> list[Source]:
    """The sources that run saved queries with `source: kind`, in the order they are asked."""
    return sorted((s for s in sources().values() if s.serves == kind), key=lambda s: s.priority)


def kinds() -> list[str]:
    """The values `source:` may take in queries.yaml."""
    return list(dict.fromkeys(s.serves for s in sources().values()))


def validate(kind: str, query: str) -> None:
    """Check a saved query against its kind's grammar (every source serving it agrees)."""
    for source in serving(kind):
        source.validate(query)
