"""Throughput estimators fed (bytes, seconds) samples; estimates in bits per second."""

from .ewma import DualEwma, DualEwmaConfig, Ewma
from .harmonic import HarmonicMean, harmonic_mean
from .percentile import SlidingPercentile

__all__ = [
    "DualEwma",
    "DualEwmaConfig",
    "Ewma",
    "HarmonicMean",
    "SlidingPercentile",
    "harmonic_mean",
]
