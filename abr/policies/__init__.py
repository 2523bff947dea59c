"""ABR policies, one per module; each has a frozen config dataclass with cited defaults."""

from .abandon import BufferAbandonConfig, BufferAbandonRule
from .bba import BbaConfig, BbaPolicy
from .bola import BolaConfig, BolaEConfig, BolaEPolicy, BolaPolicy
from .dynamic import DynamicConfig, DynamicPolicy
from .robustmpc import RobustMpcConfig, RobustMpcPolicy
from .rules import RulesConfig, RulesPolicy
from .throughput import ThroughputConfig, ThroughputPolicy

__all__ = [
    "BbaConfig",
    "BbaPolicy",
    "BolaConfig",
    "BolaEConfig",
    "BolaEPolicy",
    "BolaPolicy",
    "BufferAbandonConfig",
    "BufferAbandonRule",
    "DynamicConfig",
    "DynamicPolicy",
    "RobustMpcConfig",
    "RobustMpcPolicy",
    "RulesConfig",
    "RulesPolicy",
    "ThroughputConfig",
    "ThroughputPolicy",
]
