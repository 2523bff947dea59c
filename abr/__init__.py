"""ABR policies, throughput estimators and the offline-optimal bound. Pure: no I/O, no clock.

Policies are small per-session objects behind the :class:`Policy` protocol
(``decide(ctx) -> Decision``, optional ``observe(report)``); make them by name::

    from abr import available_policies, make_policy, policy_factory

    available_policies()   # throughput, bba, bola, bola-e, robustmpc, robustmpc-pensieve,
                           # dynamic, rules
    factory = policy_factory("robustmpc")       # config validated now
    policy = factory()                          # a fresh policy per session
    make_abandon_rule("buffer")                 # abandonment rule for the engine

Keyword arguments are fields of the policy's frozen config dataclass
(``abr.policies``); bad names or values raise :class:`PolicyConfigError`.
Estimators live in ``abr.estimators``; docs/policies.md cites every default.

The offline-optimal bound, the ceiling every policy is reported against::

    result = optimal_schedule(times_s, bandwidth_bps, sizes, bitrates_bps, OPTIMAL_PENSIEVE)
    result.rungs, result.score        # a real schedule, scored by exact simulation
"""

from .base import (
    AbandonRule,
    AbrContext,
    Decision,
    DownloadProgress,
    DownloadReport,
    Observer,
    Policy,
    ThroughputSample,
)
from .errors import AbrError, PolicyConfigError
from .optimal import OptimalResult, optimal_schedule
from .optimal_sim import PENSIEVE as OPTIMAL_PENSIEVE
from .optimal_sim import (
    ChunkOutcome,
    OptimalConfig,
    OptimalError,
    SimulationResult,
    simulate_schedule,
)
from .registry import (
    available_abandon_rules,
    available_policies,
    make_abandon_rule,
    make_policy,
    policy_factory,
)

__all__ = [
    "AbandonRule",
    "AbrContext",
    "AbrError",
    "ChunkOutcome",
    "OPTIMAL_PENSIEVE",
    "OptimalConfig",
    "OptimalError",
    "OptimalResult",
    "SimulationResult",
    "Decision",
    "DownloadProgress",
    "DownloadReport",
    "Observer",
    "Policy",
    "PolicyConfigError",
    "ThroughputSample",
    "available_abandon_rules",
    "available_policies",
    "make_abandon_rule",
    "make_policy",
    "optimal_schedule",
    "policy_factory",
    "simulate_schedule",
]
