"""abrkit telemetry: the QoE accumulator shared by replay and real playback; events, CMCD
and sinks live in their own modules."""

from .qoe import HD_REWARDS, QoeAccumulator, QoeScore, QoeSummary, score_chunks

__all__ = ["HD_REWARDS", "QoeAccumulator", "QoeScore", "QoeSummary", "score_chunks"]
