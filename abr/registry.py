"""Policy registry: names -> per-session policy factories.

    make_policy("bba", reservoir_s=3.0)        # one policy instance
    policy_factory("robustmpc")                # () -> fresh instance per session
    available_policies()                       # the known names

Keyword arguments are fields of the policy's config dataclass; unknown
names, unknown fields or bad values raise :class:`PolicyConfigError`
listing what is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .base import AbandonRule, Policy
from .errors import PolicyConfigError
from .policies.abandon import BufferAbandonConfig, BufferAbandonRule
from .policies.bba import BbaConfig, BbaPolicy
from .policies.bola import BolaConfig, BolaEConfig, BolaEPolicy, BolaPolicy
from .policies.dynamic import DynamicConfig, DynamicPolicy
from .policies.longmpc import LongMpcConfig, LongMpcPolicy
from .policies.robustmpc import RobustMpcConfig, RobustMpcPolicy
from .policies.rules import RulesConfig, RulesPolicy
from .policies.throughput import ThroughputConfig, ThroughputPolicy

# name -> (policy class, config class, fixed config overrides)
_POLICIES: dict[str, tuple[type, type, dict[str, Any]]] = {
    "throughput": (ThroughputPolicy, ThroughputConfig, {}),
    "bba": (BbaPolicy, BbaConfig, {}),
    "bola": (BolaPolicy, BolaConfig, {}),
    "bola-e": (BolaEPolicy, BolaEConfig, {}),
    "robustmpc": (RobustMpcPolicy, RobustMpcConfig, {"mode": "corrected"}),
    "robustmpc-pensieve": (RobustMpcPolicy, RobustMpcConfig, {"mode": "pensieve"}),
    "dynamic": (DynamicPolicy, DynamicConfig, {}),
    "rules": (RulesPolicy, RulesConfig, {}),
    "longmpc": (LongMpcPolicy, LongMpcConfig, {}),
}

_ABANDON_RULES: dict[str, tuple[type, type]] = {
    "buffer": (BufferAbandonRule, BufferAbandonConfig),
}


def available_policies() -> list[str]:
    """Registered policy names, in registration order."""
    return list(_POLICIES)


def available_abandon_rules() -> list[str]:
    return list(_ABANDON_RULES)


def _build_config(kind: str, name: str, config_cls: type, config: dict[str, Any]) -> Any:
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise PolicyConfigError(
            f"{kind} {name!r}: unknown config field(s) {unknown}; known fields: {sorted(known)}"
        )
    try:
        return config_cls(**config)
    except PolicyConfigError as exc:
        raise PolicyConfigError(f"{kind} {name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise PolicyConfigError(f"{kind} {name!r}: bad config {config!r}: {exc}") from None


def policy_factory(name: str, **config: Any) -> Callable[[], Policy]:
    """Validate ``config`` now and return a factory making a fresh policy per session."""
    entry = _POLICIES.get(name)
    if entry is None:
        raise PolicyConfigError(
            f"unknown ABR policy {name!r}; known policies: {', '.join(_POLICIES)}"
        )
    policy_cls, config_cls, fixed = entry
    clash = sorted(set(config) & set(fixed))
    if clash:
        raise PolicyConfigError(f"policy {name!r}: {clash} is fixed by the name")
    cfg = _build_config("policy", name, config_cls, {**config, **fixed})

    def factory() -> Policy:
        policy: Policy = policy_cls(cfg)
        return policy

    factory.__name__ = f"make_{name.replace('-', '_')}"
    return factory


def make_policy(name: str, **config: Any) -> Policy:
    """One new policy instance (see :func:`policy_factory`)."""
    return policy_factory(name, **config)()


def make_abandon_rule(name: str = "buffer", **config: Any) -> AbandonRule:
    """A new abandonment rule; ``"buffer"`` is the only one so far."""
    entry = _ABANDON_RULES.get(name)
    if entry is None:
        raise PolicyConfigError(
            f"unknown abandon rule {name!r}; known rules: {', '.join(_ABANDON_RULES)}"
        )
    rule_cls, config_cls = entry
    rule: AbandonRule = rule_cls(_build_config("abandon rule", name, config_cls, config))
    return rule
