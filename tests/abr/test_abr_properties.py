"""Every policy only ever returns rungs in [0, top_rung], whatever the context."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abr import (
    AbrContext,
    Decision,
    DownloadReport,
    ThroughputSample,
    available_policies,
    make_policy,
)

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def sessions(draw):
    n = draw(st.integers(1, 8))
    kbps = sorted(draw(st.sets(st.integers(50, 50_000), min_size=n, max_size=n)))
    bitrates = tuple(1000.0 * k for k in kbps)
    count = draw(st.integers(1, 60))
    seg = draw(st.sampled_from([0.5, 2.0, 4.0, 6.0]))
    if draw(st.booleans()):
        sizes = tuple(
            tuple(sorted(draw(st.lists(st.integers(1, 5_000_000), min_size=n, max_size=n))))
            for _ in range(count)
        )
    else:
        sizes = ()
    steps = []
    samples: list[ThroughputSample] = []
    for i in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            samples.append(
                ThroughputSample(
                    draw(st.integers(0, 10_000_000)),
                    draw(st.floats(0.0, 30.0, **finite)),
                    float(i),
                )
            )
        steps.append(
            dict(
                bitrates_bps=bitrates,
                segment_index=min(draw(st.integers(0, count)), count - 1),
                segment_count=count,
                segment_duration_s=seg,
                buffer_s=draw(st.one_of(st.just(0.0), st.floats(0.0, 120.0, **finite))),
                buffer_max_s=draw(st.sampled_from([0.0, 10.0, 30.0, 60.0])),
                last_rung=draw(st.integers(0, n - 1)),
                samples=tuple(samples[-draw(st.integers(0, 8)) :]) if samples else (),
                now_s=float(i),
                max_rung=draw(st.one_of(st.none(), st.integers(0, n - 1))),
                sizes=sizes,
            )
        )
    return steps


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions(), st.sampled_from(available_policies()))
def test_rungs_always_in_range(steps, name):
    policy = make_policy(name)
    for kw in steps:
        ctx = AbrContext(**kw)
        d = policy.decide(ctx)
        assert isinstance(d, Decision)
        assert 0 <= d.rung <= ctx.top_rung, (name, d, ctx)
        assert d.wait_s >= 0.0
        assert d.rule and d.reason
        observe = getattr(policy, "observe", None)
        if observe is not None:
            observe(DownloadReport(ctx.segment_index, d.rung, 1000, 0.5, 0.0, 0.5, ctx.buffer_s))
