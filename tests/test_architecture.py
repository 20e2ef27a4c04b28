"""The house rules of docs/architecture.md, checked on the code itself.

Layers, lowest first; a module imports only from lower layers and from its own package
(arrows never point up, and packages on one layer stay independent of each other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "papertrack"
LAYERS = [
    {"papertrack", "papertrack.errors"},
    {"papertrack.models", "papertrack.text"},
    {"papertrack.sources", "papertrack.enrich"},
    {"papertrack.config"},
    {"papertrack.store"},
    {"papertrack.ingest", "papertrack.rank"},
    {"papertrack.bibtex", "papertrack.newsletter"},
    {"papertrack.accounts"},
    {"papertrack.web"},
    {"papertrack.demo"},
    {"papertrack.cli"},
    {"papertrack.__main__"},
]
MAX_LINES = 400


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def unit(module: str) -> str:
    """The layer unit a module belongs to: its top package (papertrack.store) or itself
    (papertrack.errors); a module or package in no layer is an error saying where to list it."""
    candidate = ".".join(module.split(".")[:2])
    if not any(candidate in layer for layer in LAYERS):
        raise AssertionError(
            f"{candidate} is in no layer: list it in LAYERS in tests/test_architecture.py "
            "and in the layers of docs/architecture.md (rule 1)"
        )
    return candidate


def layer(module: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit(module) in units)


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every papertrack import, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("papertrack"):
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("papertrack")]
    return found


ALL = modules()


@pytest.mark.parametrize("module", sorted(ALL))
def test_arrows_never_point_up(module):
    for line, target, names in imports(ALL[module]):
        for full in [target] + [f"{target}.{n}" for n in names if f"{target}.{n}" in ALL]:
            same_unit = unit(full) == unit(module)
            assert same_unit or layer(full) < layer(module), (
                f"{ALL[module].relative_to(ROOT)}:{line} imports {full} ({unit(full)} is not below {unit(module)})"
            )


@pytest.mark.parametrize("module", sorted(ALL))
def test_private_names_stay_private(module):
    for line, target, names in imports(ALL[module]):
        private = [n for n in names if n.startswith("_") and not n.startswith("__") and target != module]
        assert not private, f"{ALL[module].relative_to(ROOT)}:{line} imports {private} from {target}"


@pytest.mark.parametrize("module", sorted(ALL))
def test_modules_stay_short_and_say_what_they_hold(module):
    text = ALL[module].read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{module} has more than {MAX_LINES} lines"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{module} has no docstring"


def test_every_module_is_in_a_layer():
    units = {unit(m) for m in ALL}  # raises for a package no layer lists
    assert {"papertrack.sources", "papertrack.store", "papertrack.ingest", "papertrack.web", "papertrack.cli"} <= units


def test_a_package_in_no_layer_fails_with_where_to_list_it():
    assert unit("papertrack.rank.neighbours") == "papertrack.rank" and unit("papertrack") == "papertrack"
    with pytest.raises(
        AssertionError, match=r"papertrack\.unlisted is in no layer: list it in LAYERS in tests/test_architecture\.py"
    ):
        unit("papertrack.unlisted.module")
    with pytest.raises(AssertionError, match=r"papertrack\.helpers is in no layer"):
        unit("papertrack.helpers")
