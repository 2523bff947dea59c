"""Registry: names, factories, config errors; the package's public surface."""

import pytest

import abr
from abr import PolicyConfigError, available_policies, make_policy, policy_factory
from abr.base import Policy

NAMES = [
    "throughput",
    "bba",
    "bola",
    "bola-e",
    "robustmpc",
    "robustmpc-pensieve",
    "dynamic",
    "rules",
    "longmpc",
]


def test_available_policies():
    assert available_policies() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_name_makes_a_policy(name):
    p = make_policy(name)
    assert isinstance(p, Policy)
    assert p.name == name


def test_factory_makes_fresh_instances_with_config():
    f = policy_factory("bba", reservoir_s=3.0, cushion_s=6.0)
    a, b = f(), f()
    assert a is not b
    assert a.config.reservoir_s == 3.0 and b.config.cushion_s == 6.0


def test_pensieve_mode_is_fixed_by_name():
    assert make_policy("robustmpc-pensieve").config.mode == "pensieve"
    assert make_policy("robustmpc").config.mode == "corrected"
    with pytest.raises(PolicyConfigError):
        make_policy("robustmpc-pensieve", mode="corrected")


def test_unknown_name_lists_known_names():
    with pytest.raises(PolicyConfigError) as exc:
        make_policy("mpc++")
    for name in NAMES:
        assert name in str(exc.value)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("bba", {"reservoir": 5}),  # unknown field
        ("bba", {"cushion_s": 0}),
        ("bba", {"reservoir_s": -1.0}),
        ("throughput", {"safety_factor": float("nan")}),
        ("bola", {"gamma_p_s": "five"}),
        ("robustmpc", {"horizon": 0}),
        ("dynamic", {"switch_on_buffer_s": 1.0, "switch_off_buffer_s": 2.0}),
        ("rules", {"safety_factor": 0.0}),
        ("bola-e", {"low_buffer_safety": 2.0}),
    ],
)
def test_bad_config(name, config):
    with pytest.raises(PolicyConfigError) as exc:
        policy_factory(name, **config)
    assert name in str(exc.value)


def test_abandon_rule_registry():
    rule = abr.make_abandon_rule("buffer", safety_margin_s=2.0)
    assert rule.name == "abandon" and rule.config.safety_margin_s == 2.0
    assert abr.available_abandon_rules() == ["buffer"]
    with pytest.raises(PolicyConfigError):
        abr.make_abandon_rule("nope")


def test_public_surface():
    for name in abr.__all__:
        assert hasattr(abr, name), name
    assert {"make_policy", "policy_factory", "available_policies"} <= set(abr.__all__)
