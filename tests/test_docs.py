"""The documentation keeps up with the code: every command, every environment variable,
every page the README links to."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from papertrack.cli import cli
from papertrack.sources import registry
from tests.helpers import ROOT

DOCS = ROOT / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))])


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_and_a_section_in_the_reference(name):
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no help text"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and f"Usage: cli {name}" in result.output
    assert f"\n## papertrack {name}\n" in (DOCS / "cli.md").read_text(encoding="utf-8"), (
        f"docs/cli.md has no section for {name}: run `cog -r docs/cli.md`"
    )


def test_every_environment_variable_the_code_reads_is_documented():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "papertrack").rglob("*.py"))
    read = set(re.findall(r"""envvar=["'](PAPERTRACK_\w+)""", code))
    read |= set(re.findall(r"""environ(?:\.get)?\(?\[?["'](PAPERTRACK_\w+)""", code))
    read |= set(re.findall(r"""getenv\(["'](PAPERTRACK_\w+)""", code))
    read |= {s.env for source in registry.sources().values() for s in source.settings}  # each source's options
    assert {"PAPERTRACK_ARXIV_URL", "PAPERTRACK_ARXIV_OAI_URL", "PAPERTRACK_DBLP_SPARQL_URL", "PAPERTRACK_CONTACT"} <= read
    docs = all_docs()
    undocumented = sorted(v for v in read if f"`{v}`" not in docs)
    assert not undocumented, f"environment variables read by the code but not documented: {undocumented}"


def test_readme_links_point_at_existing_pages():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 9
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing pages: {missing}"


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 170
