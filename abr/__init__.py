"""ABR policies, throughput estimators and the offline-optimal bound. Pure: no I/O, no clock."""

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
    "policy_factory",
]
