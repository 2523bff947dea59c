"""abrkit telemetry: QoE metrics shared by replay and real playback (events, CMCD, sinks to come)."""

from .qoe import HD_REWARDS, QoeAccumulator, QoeScore, QoeSummary, score_chunks

__all__ = ["HD_REWARDS", "QoeAccumulator", "QoeScore", "QoeSummary", "score_chunks"]
