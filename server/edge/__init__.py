"""OCA-style edges: static bytes with ranges, faults, shaping and tiering."""

from server.edge.app import Edge
from server.edge.faults import FaultError, FaultSet
from server.edge.shaping import ConstantRate, ShapingError, TraceRate, load_trace
from server.edge.tiering import OriginError, PullThroughCache

__all__ = [
    "ConstantRate",
    "Edge",
    "FaultError",
    "FaultSet",
    "OriginError",
    "PullThroughCache",
    "ShapingError",
    "TraceRate",
    "load_trace",
]
