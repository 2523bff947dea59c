"""The compiled RobustMPC search: built where a compiler exists, loaded safely, exact."""

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import hatch_build
from abr.policies import mpc_kernel, mpc_search
from abr.policies.robustmpc import brute_force_plan

BITRATES = [300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3]


def test_kernel_is_built_and_used_where_a_compiler_can_build_it(tmp_path):
    if mpc_kernel.KERNEL is not None:
        assert mpc_search.implementation().startswith("compiled kernel")
        return
    assert "numpy" in mpc_search.implementation()
    # no kernel: then this machine must really be unable to build it (not a skipped hook)
    src = tmp_path / hatch_build.SOURCE
    src.parent.mkdir(parents=True)
    src.write_bytes((Path(mpc_kernel.__file__).parent / "_mpc_kernel.c").read_bytes())
    why = hatch_build.compile_kernel(tmp_path)
    assert why, f"the kernel compiles here, the install did not build it: {mpc_kernel.UNAVAILABLE}"


def test_use_kernel_switches_and_reports():
    try:
        assert mpc_search.use_kernel(False) is False
        assert mpc_search.implementation() == "numpy (disabled by use_kernel(False))" or (
            mpc_kernel.KERNEL is None
        )
    finally:
        assert mpc_search.use_kernel(True) is (mpc_kernel.KERNEL is not None)


def test_missing_or_broken_library_falls_back_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(mpc_kernel, "LIBRARY", tmp_path / "_mpc_kernel.so")
    kernel, why = mpc_kernel._load()
    assert kernel is None and "was not built" in why
    (tmp_path / "_mpc_kernel.so").write_bytes(b"not a shared library")
    kernel, why = mpc_kernel._load()
    assert kernel is None and "could not be loaded" in why and "_mpc_kernel.so" in why


def test_stale_library_is_not_used(tmp_path, monkeypatch):
    cc = hatch_build._compiler()
    assert cc is not None or mpc_kernel.KERNEL is None  # a kernel implies a compiler
    if cc is None:
        return
    src = tmp_path / "abr" / "policies" / "_mpc_kernel.c"
    src.parent.mkdir(parents=True)
    src.write_text("int abrkit_mpc_kernel_abi(void) { return 999; }\n")
    assert hatch_build.compile_kernel(tmp_path) == ""
    monkeypatch.setattr(mpc_kernel, "LIBRARY", tmp_path / hatch_build.LIBRARY)
    kernel, why = mpc_kernel._load()
    assert kernel is None and f"stale (interface 999, expected {mpc_kernel.ABI})" in why


def test_compile_failure_is_reported_and_leaves_nothing(tmp_path, monkeypatch):
    src = tmp_path / "abr" / "policies" / "_mpc_kernel.c"
    src.parent.mkdir(parents=True)
    src.write_text("this is not C\n")
    why = hatch_build.compile_kernel(tmp_path)
    assert why  # either no compiler, or the compiler's error
    assert not (tmp_path / hatch_build.LIBRARY).exists()
    assert not list(src.parent.glob("*.tmp"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no compiler anywhere
    monkeypatch.setenv("CC", "")
    monkeypatch.setattr(hatch_build.sysconfig, "get_config_var", lambda name: None)
    assert hatch_build.compile_kernel(tmp_path).startswith("no C compiler found")


needs_kernel = mpc_kernel.KERNEL is not None


def test_kernel_rejects_tables_beyond_its_limits_clearly():
    if not needs_kernel:
        assert shutil.which("cc") is None or mpc_kernel.UNAVAILABLE
        return
    rates = np.array([1e6, 2e6])
    with pytest.raises(ValueError, match=r"rejected a \(17, 2\) download table"):
        mpc_kernel.KERNEL.search(np.ones((17, 2)), rates, 4.0, 4.0, 0, True, False, 4.3, 1e6)
    with pytest.raises(ValueError, match=r"last rung 2"):
        mpc_kernel.KERNEL.search(np.ones((3, 2)), rates, 4.0, 4.0, 2, True, False, 4.3, 1e6)
    # beyond the kernel's limits, search() itself takes the numpy path: same answer
    lad = mpc_search.ladder((1e6, 2e6), 17, 1e6)
    dl = np.full((17, 2), 1.0)
    assert mpc_search.search(lad, dl, 4.0, 4.0, 0, "pensieve", False, 4.3) == brute_force_plan(
        [1e6, 2e6], dl.tolist(), 4.0, 4.0, 0
    )


def test_concurrent_searches_agree_with_brute_force():
    """ctypes releases the GIL during the call: threads must not share any state."""
    rng = np.random.default_rng(3)
    problems = []
    for _ in range(24):
        pred = rng.uniform(0.2e6, 6e6) / 8
        dl = np.array(BITRATES) * 4 / 8 * rng.uniform(0.8, 1.2, size=(5, 6)) / pred
        problems.append((dl, float(rng.uniform(0, 40)), int(rng.integers(0, 6))))
    expected = [brute_force_plan(BITRATES, dl.tolist(), b, 4.0, last) for dl, b, last in problems]
    lad = mpc_search.ladder(tuple(BITRATES), 5, 1e6)
    results: dict[int, list] = {}

    def work(tid: int) -> None:
        out = []
        for _ in range(50):
            out = [
                mpc_search.search(lad, dl, b, 4.0, last, "pensieve", False, 4.3)
                for dl, b, last in problems
            ]
        results[tid] = out

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[t] == expected for t in range(4))
