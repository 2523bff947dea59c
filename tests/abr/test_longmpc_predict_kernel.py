"""longmpc's compiled predictor (abr/estimators/_longmpc_predict.c): built where a compiler
exists, loaded safely, and the Python predictor's numbers bit for bit."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hatch_build
from abr import ThroughputSample, policy_factory
from abr.errors import PolicyConfigError
from abr.estimators import predict_kernel
from abr.estimators.ewma import MIN_SECONDS
from abr.policies.longmpc import LongMpcConfig, LongMpcPolicy
from player.presets import PENSIEVE, SABRE
from player.replay import replay
from player.traces import load_trace_dir
from player.video import load_pensieve_video, load_sabre_movie
from tests.support.abr_context import make_ctx

HAS_KERNEL = predict_kernel.KERNEL is not None
LADDERS = ((300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3), (0.5e6, 2e6, 8e6))
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


def bits(x: object) -> object:
    """A float's exact bits (ints as floats; other values as they are)."""
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, int | float):
        return struct.pack("<d", float(x))
    return x


def policy(cfg: LongMpcConfig, compiled: bool) -> LongMpcPolicy:
    predict_kernel.use_kernel(compiled)
    try:
        return LongMpcPolicy(cfg)
    finally:
        predict_kernel.use_kernel(True)


def test_compiled_predictor_is_built_and_used_where_a_compiler_can_build_it(tmp_path):
    p = LongMpcPolicy()
    if HAS_KERNEL:
        assert p.predictor_implementation.startswith("compiled")
        assert predict_kernel.implementation().startswith("compiled")
        return
    assert p.predictor_implementation.startswith("python")
    # no compiled predictor: then this machine must really be unable to build it
    src_root = Path(hatch_build.__file__).parent
    for s in hatch_build.SOURCES:
        (tmp_path / s).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / s).write_bytes((src_root / s).read_bytes())
    why = hatch_build.compile_kernel(tmp_path)
    assert why, (
        f"the library compiles here, the install did not build it: {p.predictor_implementation}"
    )


def test_use_kernel_switches_new_policies_and_reports():
    try:
        assert predict_kernel.use_kernel(False) is False
        p = LongMpcPolicy()
        assert p.predictor_implementation.startswith("python (")
        assert p._selector is not None and p._shift is not None
    finally:
        assert predict_kernel.use_kernel(True) is HAS_KERNEL
    assert LongMpcPolicy(LongMpcConfig(predictor="hm")).predictor_implementation == (
        "python (predictor 'hm')"
    )


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"predictor": "select", "selection_mode": "blend"}, "selection_mode 'blend'"),
        ({"predictor_windows": tuple(range(1, 10)), "risk_ratio": 0.0}, "more than 8"),
        ({"selection_window": 70000}, "limits"),
        ({"error_window": 2000}, "limits"),
    ],
)
def test_configs_it_does_not_implement_run_the_python_predictor(kw, why):
    p = LongMpcPolicy(LongMpcConfig(**kw))
    if HAS_KERNEL:
        assert p.predictor_implementation.startswith("python (") and why in (
            p.predictor_implementation
        )
    assert p._selector is not None  # the Python estimators run


def test_missing_or_broken_library_falls_back_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(predict_kernel, "LIBRARY", tmp_path / "_mpc_kernel.so")
    kernel, why = predict_kernel._load()
    assert kernel is None and "was not built" in why
    (tmp_path / "_mpc_kernel.so").write_bytes(b"not a shared library")
    kernel, why = predict_kernel._load()
    assert kernel is None and "could not be loaded" in why and "_mpc_kernel.so" in why


def _tree(tmp_path: Path, predictor_c: str | None) -> Path:
    mpc = tmp_path / hatch_build.SOURCE
    mpc.parent.mkdir(parents=True)
    mpc.write_text("int abrkit_mpc_kernel_abi(void) { return 0; }\n")
    if predictor_c is not None:
        src = tmp_path / hatch_build.SOURCES[1]
        src.parent.mkdir(parents=True)
        src.write_text(predictor_c)
    return tmp_path / hatch_build.LIBRARY


def test_stale_or_incomplete_library_is_not_used(tmp_path, monkeypatch):
    cc = hatch_build._compiler()
    assert cc is not None or not HAS_KERNEL  # a compiled predictor implies a compiler
    if cc is None:
        return
    lib = _tree(tmp_path / "stale", "int abrkit_longmpc_predict_abi(void) { return 999; }\n")
    assert hatch_build.compile_kernel(tmp_path / "stale") == ""
    monkeypatch.setattr(predict_kernel, "LIBRARY", lib)
    kernel, why = predict_kernel._load()
    assert (
        kernel is None and f"stale (predictor interface 999, expected {predict_kernel.ABI})" in why
    )
    lib = _tree(tmp_path / "partial", None)  # a tree without the predictor's source
    assert hatch_build.compile_kernel(tmp_path / "partial") == ""
    monkeypatch.setattr(predict_kernel, "LIBRARY", lib)
    kernel, why = predict_kernel._load()
    assert kernel is None and "lacks the longmpc predictor" in why
    abi = f"int abrkit_longmpc_predict_abi(void) {{ return {predict_kernel.ABI}; }}\n"
    lib = _tree(tmp_path / "abi", abi)  # the right version, no predictor
    assert hatch_build.compile_kernel(tmp_path / "abi") == ""
    monkeypatch.setattr(predict_kernel, "LIBRARY", lib)
    kernel, why = predict_kernel._load()
    assert kernel is None and "lacks an entry point" in why


def test_lazy_errors_and_last_prediction_match_the_python_path():
    cfg = LongMpcConfig()
    c, py = policy(cfg, True), policy(cfg, False)
    assert c._errors == py._errors == [] and c._last_prediction is py._last_prediction is None
    samples = []
    for k, mbps in enumerate((3.0, 2.5, 2.8, 9.0, 8.5, 1.0, 1.1, 1.2, 1.0, 0.9, 1.0, 1.05)):
        samples.append(ThroughputSample(int(mbps * 5e5), 4.0, float(k)))
        ctx = make_ctx(5.0, bitrates=LADDERS[0], index=k, count=48, last=1, samples=samples)
        assert c.decide(ctx) == py.decide(ctx)
        assert c._errors == py._errors and c._last_prediction == py._last_prediction
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = c.nothing


# -- C vs Python on random configs and sample streams -----------------------------------------


@st.composite
def configs(draw):
    k = draw(st.integers(1, 8))
    kw = {
        "predictor": draw(st.sampled_from(("levelshift", "select"))),
        "predictor_windows": tuple(draw(st.integers(1, 70)) for _ in range(k)),
        "selection_window": draw(st.integers(1, 80)),
        "error_window": draw(st.integers(1, 40)),
        "short_error_window": draw(st.integers(1, 30)),
        "error_quantile": draw(st.sampled_from((0.0, 0.5, 0.75, 1.0)) | st.floats(0.0, 1.0)),
        "selection_margin": draw(st.sampled_from((1.0, 0.8)) | st.floats(0.01, 1.0)),
        "selection_score": draw(st.sampled_from(("log", "rel"))),
        "discount_error": draw(st.sampled_from(("abs", "over"))),
        "discount_weight": draw(st.sampled_from((1.0, None, 0.0, 0.5)) | st.floats(0.0, 1.0)),
        "shift_threshold": draw(st.floats(0.01, 3.0)),
        "shift_fresh_error": draw(st.sampled_from((0.0, 0.75)) | st.floats(0.0, 3.0)),
        "shift_fresh_samples": draw(st.integers(0, 30)),
        "shift_fresh_error_down": draw(st.none() | st.floats(0.0, 3.0)),
        "shift_warmup": draw(st.integers(0, 15)),
        "risk_ratio": draw(st.sampled_from((0.0, 0.8)) | st.floats(0.0, 2.0)),
        "risk_min_samples": draw(st.integers(1, 12)),
        "risk_fresh_error": draw(st.none() | st.floats(0.0, 2.0)),
        "risk_fresh_error_down": draw(st.none() | st.floats(0.0, 2.0)),
        "drop_prob": draw(st.sampled_from((0.0, 0.5)) | st.floats(0.0, 2.0)),
        "drop_min_samples": draw(st.integers(1, 25)),
        "deep_span": draw(st.sampled_from((0.0, 8.0, 1.0)) | st.floats(0.0, 30.0)),
        "deep_fresh_error_down": draw(st.none() | st.floats(0.0, 2.0)),
        "deep_rebuffer_penalty": draw(st.none() | st.floats(0.0, 10.0)),
    }
    if k < 2:
        kw["risk_ratio"] = 0.0
    return LongMpcConfig(**kw)


def _level(draw, kind: str, level: float) -> float:
    if kind == "wide":
        return math.exp(draw(st.floats(math.log(1e3), math.log(1e9))))
    if kind == "noise":
        return level * draw(st.floats(0.7, 1.4))
    if kind == "shift":
        return level * draw(st.sampled_from((0.05, 0.3, 3.0, 20.0)))
    if kind == "same":
        return level
    return draw(st.sampled_from((1e-3, 7.0, 1e12, 3e13)))  # tiny / huge


@st.composite
def streams(draw):
    """Calls, each with the samples that arrived since the previous (0 to 3)."""
    level = draw(st.floats(1e5, 5e7))
    calls = []
    for _ in range(draw(st.integers(1, 140))):
        batch = []
        for _ in range(draw(st.sampled_from((1, 1, 1, 1, 0, 2, 3)))):
            kind = draw(st.sampled_from(("noise", "noise", "same", "shift", "wide", "extreme")))
            level = _level(draw, kind, level)
            seconds = draw(st.sampled_from((4.0, 1.0, 0.37)))
            nbytes = max(1, round(level * seconds / 8.0))
            if (
                draw(st.integers(0, 40)) == 0
            ):  # no bytes, too short (filtered out), just long enough
                nbytes, seconds = draw(
                    st.sampled_from(((0, 4.0), (1000, MIN_SECONDS / 2), (1000, MIN_SECONDS)))
                )
            batch.append((nbytes, seconds))
        calls.append(batch)
    return calls


def _facts(p: LongMpcPolicy, pred: float | None) -> tuple:
    return (
        bits(pred),
        bits(p.prediction_bps),
        bits(p._max_error),
        p._risky,
        p._deep,
        p._drop_levels(),
        p.config,
        bits(p._last_prediction),
        [bits(e) for e in p._errors],
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), calls=streams(), ladder=st.sampled_from(LADDERS))
def test_compiled_predictor_equals_python_after_every_sample(cfg, calls, ladder):
    c, py = policy(cfg, True), policy(cfg, False)
    assume(c.predictor_implementation.startswith("compiled") or not HAS_KERNEL)
    samples: list[ThroughputSample] = []
    for i, batch in enumerate(calls):
        for nbytes, seconds in batch:
            samples.append(ThroughputSample(nbytes, seconds, float(len(samples))))
        ctx = make_ctx(7.0, bitrates=ladder, index=i, count=10**6, last=1, samples=samples)
        got = c._update_predictor(ctx)
        want = py._update_predictor(ctx)
        c.prediction_bps, py.prediction_bps = got, want
        assert _facts(c, got) == _facts(py, want), (i, cfg)


@settings(max_examples=60, deadline=None)
@given(
    cfg=configs(),
    calls=streams(),
    buffers=st.lists(st.floats(0.0, 40.0), min_size=1),
    jitter=st.none() | st.floats(0.0, 0.2),
)
def test_compiled_predictor_makes_the_same_decisions(cfg, calls, buffers, jitter):
    # with a size table the compiled path plans in the same C call as the predictor
    # (abrkit_longmpc_decide); without one it takes the general path
    c, py = policy(cfg, True), policy(cfg, False)
    samples: list[ThroughputSample] = []
    sizes = (
        [[int(r * 4 / 8 * (1.0 + jitter * ((k * 7 + j) % 5 - 2))) for j, r in enumerate(LADDERS[0])]
         for k in range(160)]
        if jitter is not None else ()
    )  # fmt: skip
    for i, batch in enumerate(calls):
        for nbytes, seconds in batch:
            samples.append(ThroughputSample(nbytes, seconds, float(len(samples))))
        buf = buffers[i % len(buffers)]
        ctx = make_ctx(
            buf, bitrates=LADDERS[0], index=i, count=i + 6, last=i % 6, samples=samples,
            sizes=sizes,
        )  # fmt: skip
        assert c.decide(ctx) == py.decide(ctx)
        assert bits(c.prediction_bps) == bits(py.prediction_bps)


def test_bad_config_is_still_rejected_before_any_predictor():
    with pytest.raises(PolicyConfigError):
        LongMpcConfig(predictor_windows=(5, 0))


# -- whole sessions ---------------------------------------------------------------------------


class _Log:
    def __init__(self, policy, out: list) -> None:
        self.policy, self.name, self.out = policy, policy.name, out

    def decide(self, ctx):
        d = self.policy.decide(ctx)
        self.out.append((d, bits(self.policy.prediction_bps)))
        return d


def _sessions(traces, video, preset, compiled: bool, **kw) -> list:
    factory = policy_factory("longmpc", **kw)
    logs = []
    for t in traces:
        out: list = []
        predict_kernel.use_kernel(compiled)
        try:
            replay(t, video, lambda out=out: _Log(factory(), out), preset)
        finally:
            predict_kernel.use_kernel(True)
        logs.append(out)
    return logs


def test_whole_sessions_decide_the_same():
    assert SHARED.is_dir(), f"../shared beside the repository is required: {SHARED} is missing"
    train = load_trace_dir(SHARED / "pensieve_train")
    pensieve_video = load_pensieve_video(SHARED / "pensieve_video")
    bbb4k = load_sabre_movie(SHARED / "sabre_movies" / "bbb4k.json")
    sets = [
        (train[::9], pensieve_video, PENSIEVE, {}),
        (load_trace_dir(SHARED / "sabre_hd_fs")[3::150], bbb4k, SABRE, {}),
        (train[4::20], pensieve_video, PENSIEVE, {"predictor": "select", "discount_weight": None}),
    ]
    for traces, video, preset, kw in sets:
        assert traces
        c = _sessions(traces, video, preset, True, **kw)
        py = _sessions(traces, video, preset, False, **kw)
        assert c == py
        assert sum(len(s) for s in c) > 10 * len(traces)
