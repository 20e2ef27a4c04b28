"""Sources added by other packages (the `papertrack.sources` entry point group): a plugin
that cannot be loaded is one line on every command, and the built-in sources still work."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from papertrack.sources import registry
from tests.helpers import BASIC_QUERIES, make_paper, write_queries

BROKEN = [
    EntryPoint("openreview", "papertrack_no_such_plugin.openreview:SOURCE", registry.GROUP),
    EntryPoint("rss", "json:loads", registry.GROUP),  # loads, but is no Source
]


@pytest.fixture
def broken_plugins(monkeypatch):
    """An installation whose entry points name a missing module and something that is not a source."""
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep for ep in BROKEN if ep.group == group])
    monkeypatch.setattr(registry, "_registry", {})
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_broken", [], raising=False)


def test_a_plugin_that_cannot_be_loaded_is_one_line_and_the_built_in_sources_work(run_cli, tmp_path, replay, broken_plugins):
    server = replay([make_paper(1, title="Binary neural network things")])
    write_queries(tmp_path / "queries.yaml", BASIC_QUERIES)
    warnings = [
        'Warning: the papertrack.sources entry point "openreview = papertrack_no_such_plugin.openreview:SOURCE" was '
        "not loaded (ModuleNotFoundError: No module named 'papertrack_no_such_plugin'); its source is left out",
        'Warning: the papertrack.sources entry point "rss = json:loads" was not loaded (TypeError: function is not '
        "a papertrack Source); its source is left out",
    ]
    listed = run_cli("queries")
    assert listed.exit_code == 0, listed.output
    assert listed.stderr.splitlines() == warnings
    assert sorted(registry.sources()) == ["arxiv-api", "arxiv-oai", "dblp-sparql"]
    harvested = run_cli("harvest", env={"PAPERTRACK_ARXIV_URL": server.url})
    assert harvested.exit_code == 0, harvested.output
    assert [line.split()[-1] for line in harvested.stdout.splitlines()[2:]] == ["ok", "ok"]
    assert harvested.stderr.splitlines() == warnings
