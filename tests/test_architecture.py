"""Architecture guards: the pure packages stay pure and leaves stay leaves.

ARCHITECTURE.md: the engine, ``abr`` and ``manifest`` import nothing that
touches a network, a clock or a thread; ``manifest``, ``abr``, ``drm`` and
``telemetry`` import nothing else of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPURE = {
    "socket", "httpx", "asyncio", "threading", "time", "urllib.request", "requests", "subprocess"
}
OUR_PACKAGES = {"player", "abr", "manifest", "drm", "telemetry", "server", "benchmarks"}

# Modules that must be sans-IO: whole packages plus the engine modules of player/.
PURE_FILES = sorted(
    [p for pkg in ("abr", "manifest") for p in (ROOT / pkg).rglob("*.py")]
    + [ROOT / "player" / name for name in ("session.py", "states.py", "network.py")]
    + [ROOT / "telemetry" / name for name in ("qoe.py", "events.py", "cmcd.py")]
)
LEAVES = ("manifest", "abr", "drm", "telemetry")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", PURE_FILES, ids=_rel)
def test_pure_modules_import_no_io_clock_or_threads(path: Path) -> None:
    bad = {n for n in _imports(path) if n in IMPURE or n.split(".")[0] in IMPURE}
    assert not bad, f"{_rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", [p for pkg in LEAVES for p in sorted((ROOT / pkg).rglob("*.py"))], ids=_rel
)
def test_leaf_packages_import_nothing_else_of_ours(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0]
    others = {n.split(".")[0] for n in _imports(path)} & (OUR_PACKAGES - {own})
    assert not others, f"{_rel(path)} imports {sorted(others)}"


def test_guard_sees_the_engine() -> None:
    assert (ROOT / "player" / "session.py") in PURE_FILES
    assert len(PURE_FILES) > 20
