"""The one-way data flow of docs/DESIGN.md, checked on the source: who may import whom.

``risk/`` is pure computation (no files, no UI) and imports nothing from ``geo/``; ``geo/``
knows nothing of the model or the UI; nothing imports the source folders by their bare
names (``geo``, ``risk``...), which are installed only as ``firerisk.geo``, ``firerisk.risk``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BARE = ("geo", "risk", "report", "ui")

#: package folder -> module prefixes it must never import
FORBIDDEN = {
    "risk": ("firerisk.geo", "firerisk.ui", "firerisk.report", "firerisk.pipeline",
             "firerisk.cli", "streamlit", "pyogrio", "folium", "matplotlib"),
    "geo": ("firerisk.risk", "firerisk.ui", "firerisk.report", "firerisk.pipeline",
            "firerisk.cli", "streamlit"),
    "report": ("firerisk.ui", "firerisk.cli", "streamlit"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _sources(*folders: str) -> list[Path]:
    """Every Python file under *folders*, once (the links under firerisk/ are not followed)."""
    found = {p.resolve() for folder in folders for p in (ROOT / folder).rglob("*.py")}
    return sorted(found)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_data_flow(package: str) -> None:
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name}"
           for path in _sources(package) for line, name in _imports(path)
           if name.startswith(FORBIDDEN[package])]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_source_folders_by_their_bare_names() -> None:
    folders = ("geo", "risk", "report", "ui", "firerisk", "tests", "bench", "scripts")
    paths = [*_sources(*folders), ROOT / "app.py"]
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name}"
           for path in paths for line, name in _imports(path)
           if name.split(".")[0] in BARE]
    assert not bad, "\n".join(bad)


def test_the_installed_names_point_at_the_top_level_folders() -> None:
    # firerisk/geo etc. are links to the top-level folders, so there is one copy of the code.
    for name in BARE:
        link = ROOT / "firerisk" / name
        assert link.is_symlink(), name
        assert link.resolve() == (ROOT / name).resolve(), name
