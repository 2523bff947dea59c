"""``python -m benchmarks``: list the benchmark modules (``bench_*.py``) and what each measures.

Run one with ``python -m benchmarks.<name> --help``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_modules() -> list[tuple[str, str]]:
    """``(module name, first docstring line)`` of each ``bench_*.py`` here, sorted."""
    out = []
    for f in sorted(HERE.glob("bench_*.py")):
        try:
            doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
        except (OSError, SyntaxError, ValueError):
            doc = ""
        out.append((f.stem, doc.strip().splitlines()[0] if doc.strip() else ""))
    return out


def main() -> int:
    mods = benchmark_modules()
    if not mods:
        print("no benchmark modules found", file=sys.stderr)
        return 1
    width = max(len(m) for m, _ in mods)
    print("Benchmarks (run: python -m benchmarks.<name>):")
    for name, doc in mods:
        print(f"  {name:<{width}}  {doc}")
    print("Replay any trace set: abrkit replay --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
