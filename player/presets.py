"""Replay presets: an engine config, a network model and a few replay knobs, named.

* ``pensieve`` — the literature's setup, reproduced exactly (QOE.md): 0.95
  payload factor, 80 ms per chunk added to the delay without moving the
  trace, 60 s buffer cap drained in 0.5 s sleeps (one Wait), first chunk at
  rung 1 and its download is the startup, no startup threshold beyond that
  chunk, a stall ends with the next chunk, 48 chunks, QoE over chunks 1..47.
  Pensieve has no stall limit; ours is 600 s, far beyond any stall on the
  reference traces, so an all-zero tail still ends the session.
* ``realistic`` — the default: the request latency (the trace's own when it
  has one, else 80 ms) takes trace time, playback starts with 8 s buffered
  (two 4 s segments), resumes after a stall with 4 s, 30 s buffer goal,
  the policy chooses the first rung, downloads report progress every 0.5 s
  so abandonment rules can act, stall limit 60 s.
* ``sabre`` — Sabre's default simulator settings (Spiteri et al., MMSys 2018;
  ``src/sabre.py`` of github.com/UMass-LIDS/sabre, its argparse defaults and
  main loop), for the Sabre trace sets and movies (3 s segments):

  - buffer: ``--max-buffer`` defaults to 25 s, and a download starts only
    when ``buffer + one segment <= 25 s`` (the loop waits exactly
    ``buffer + segment_time - buffer_size``); here: ``buffer_max_s`` 22 s
    (25 s minus one 3 s Sabre segment) drained exactly (``drain_step_s`` 0).
  - startup: the first segment is downloaded at ``abr.get_first_quality()``,
    which Sabre's ``Abr`` base class answers with 0 (the lowest rung), and
    its download time is the startup time; playback starts with that one
    segment (``startup_threshold_s`` 0, ``start_rung`` 0).
  - stalls: ``deplete_buffer`` plays again as soon as a segment is in
    (``rebuffer_resume_s`` 0); Sabre has no stall limit, and its trace wraps
    around, so a session always ends; ours is 600 s (as ``pensieve``).
  - network: each request first pays the trace's own ``latency_ms`` in
    network time (``do_latency_delay`` moves the trace), then the bytes flow
    at the full ``bandwidth_kbps`` (no payload factor: ``payload_factor``
    1.0); the trace wraps (``next_network_period`` restarts at index 0).
  - abandonment: on by default (``--no-abandon`` turns it off) but it is
    the ABR's own ``check_abandon``, which the ``Abr`` base class answers
    with None (never): only Sabre's BOLA variants abandon. abrkit's abandon
    rule is not Sabre's and would act for every policy, so the preset runs
    without one (``abandonment`` False; no progress events).
  - QoE: Sabre reports its own utility score; abrkit scores QoE_lin over
    every chunk (``first_scored_chunk`` 0), whole movie (199 segments).
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import PENSIEVE_NETWORK, REALISTIC_NETWORK, NetworkConfig
from .session import EngineConfig

__all__ = ["PENSIEVE", "PRESETS", "REALISTIC", "SABRE", "Preset", "get_preset"]


@dataclass(frozen=True, slots=True)
class Preset:
    """A named replay setup.

    ``segments``: play only the first N segments of the video (None: all).
    ``progress_interval_s``: send DownloadProgress events this often during
    downloads when abandonment is on (no progress events otherwise: faster).
    ``abandonment``: use the default abandon rule when ``replay`` is given none.
    """

    name: str
    engine: EngineConfig
    network: NetworkConfig
    segments: int | None = None
    progress_interval_s: float = 0.5
    abandonment: bool = False


PENSIEVE = Preset(
    "pensieve",
    EngineConfig(
        startup_threshold_s=0.0,
        rebuffer_resume_s=0.0,
        buffer_max_s=60.0,
        drain_step_s=0.5,
        start_rung=1,
        stall_limit_s=600.0,
        max_samples=20,
        first_scored_chunk=1,
    ),
    PENSIEVE_NETWORK,
    segments=48,
)

REALISTIC = Preset(
    "realistic",
    EngineConfig(
        startup_threshold_s=8.0,
        rebuffer_resume_s=4.0,
        buffer_max_s=30.0,
        drain_step_s=0.5,
        start_rung=None,
        stall_limit_s=60.0,
        max_samples=20,
        first_scored_chunk=0,
    ),
    REALISTIC_NETWORK,
    progress_interval_s=0.5,
    abandonment=True,
)

SABRE_NETWORK = NetworkConfig(
    payload_factor=1.0, latency_s=0.0, latency_advances_trace=True, use_trace_latency=True
)
"""Sabre's network model: full trace bandwidth, the trace's own latency taking trace time."""

SABRE = Preset(
    "sabre",
    EngineConfig(
        startup_threshold_s=0.0,
        rebuffer_resume_s=0.0,
        buffer_max_s=22.0,
        drain_step_s=0.0,
        start_rung=0,
        stall_limit_s=600.0,
        max_samples=20,
        first_scored_chunk=0,
    ),
    SABRE_NETWORK,
    abandonment=False,
)

PRESETS: dict[str, Preset] = {p.name: p for p in (PENSIEVE, REALISTIC, SABRE)}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ValueError lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
