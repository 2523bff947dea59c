"""Build hook: compiles abrkit's optional C code into one library (abr/policies/_mpc_kernel.so).

:data:`SOURCES`: the plan search of RobustMPC (abr/policies/_mpc_kernel.c) and
longmpc's throughput predictor (abr/estimators/_longmpc_predict.c). The
library is plain C loaded with ctypes (no Python headers needed), so any C
compiler will do: ``$CC``, else the one Python was built with, else ``cc``.
Without a compiler, or when compiling fails, the build goes on without it and
abrkit uses its Python code (same answers, slower;
``abr.policies.mpc_search.implementation()`` and
``abr.estimators.predict_kernel.implementation()`` say which one runs). A
tree holding only some of the sources (tests build partial ones) gets a
library with those: the loaders of the others report it stale or incomplete.

Editable installs (``pip install -e .``, what ``make`` does) compile next to
the source; a wheel also carries the library and is tagged for the platform.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported outside a build (tests call compile_kernel directly)
    BuildHookInterface = object  # type: ignore[assignment,misc]

SOURCE = Path("abr/policies/_mpc_kernel.c")
#: every C source of the library (SOURCE first)
SOURCES = (SOURCE, Path("abr/estimators/_longmpc_predict.c"))
LIBRARY = SOURCE.with_name("_mpc_kernel.so")
#: IEEE double semantics the exactness argument needs: no fast-math, no fused multiply-add
FLAGS = ["-O2", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off"]


def _compiler() -> list[str] | None:
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        if not candidate:
            continue
        argv = shlex.split(candidate)
        if argv and shutil.which(argv[0]):
            return argv
    return None


def compile_kernel(root: Path) -> str:
    """Compile the library from the :data:`SOURCES` present under ``root``; returns ""
    or why it was not built."""
    srcs = [str(root / s) for s in SOURCES if s == SOURCE or (root / s).is_file()]
    out = root / LIBRARY
    cc = _compiler()
    if cc is None:
        return "no C compiler found ($CC, Python's CC, cc, gcc, clang)"
    tmp = out.with_suffix(".so.tmp")
    try:
        proc = subprocess.run(
            [*cc, *FLAGS, "-o", str(tmp), *srcs, "-lm"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{cc[0]} failed to run: {exc}"
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        return f"{cc[0]} exited {proc.returncode}: {proc.stderr.strip()[:400]}"
    os.replace(tmp, out)  # never a half-written library
    return ""


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        why = compile_kernel(root)
        if why:
            print(
                "abrkit: the compiled MPC search and longmpc predictor were not built"
                f" ({why}); their Python versions will be used",
                file=sys.stderr,
            )
            return
        if version != "editable":
            build_data["force_include"][str(root / LIBRARY)] = LIBRARY.as_posix()
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
