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
    """The layer unit a module belongs to: its top package (papertrack.store) or itself."""
    parts = module.split(".")
    candidate = ".".join(parts[:2])
    return candidate if any(candidate in layer for layer in LAYERS) else "papertrack"


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


def test_every_layer_unit_exists():
    units = {unit(m) for m in ALL}
    assert units <= set().union(*LAYERS)
    assert {"papertrack.sources", "papertrack.store", "papertrack.ingest", "papertrack.web", "papertrack.cli"} <= units
