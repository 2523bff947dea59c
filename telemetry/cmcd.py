"""Common Media Client Data (CTA-5004) on segment requests.

Build a :class:`CmcdData` in natural units (bits per second, seconds) and turn
it into either a query fragment (``to_query``: ``CMCD=<url-encoded payload>``,
the default transmission mode) or request headers (``to_headers``: the four
``CMCD-*`` headers, keys split per the spec's header table). Pure functions,
no I/O.

Serialisation rules applied here (CTA-5004 section 3):

- keys sorted alphabetically, joined by ``,``; ``key=value`` pairs;
- integer keys in their spec units: ``br``/``tb``/``mtp`` in kbps, ``bl``/``d``
  in milliseconds; ``bl`` rounded to the nearest 100 ms and ``mtp`` to the
  nearest 100 kbps;
- strings (``cid``, ``sid``, ``nor``) double-quoted with ``\\`` and ``"``
  escaped; tokens (``ot``, ``st``) unquoted;
- booleans (``bs``, ``su``) sent as the bare key when true, omitted when false;
- values equal to their default (``v=1``) and ``None`` values omitted.

Errors: :class:`CmcdError` (a ``TelemetryError``) for a value the spec does not
allow (unknown object type token, negative number, over-long string).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from telemetry.events import TelemetryError

__all__ = [
    "CmcdData",
    "CmcdError",
    "CmcdMode",
    "OBJECT_TYPES",
    "HEADER_OF_KEY",
    "encode_pairs",
    "encode_payload",
    "to_query",
    "to_headers",
    "add_to_url",
]

CmcdMode = Literal["query", "headers"]

OBJECT_TYPES = frozenset({"m", "a", "v", "av", "i", "c", "tt", "k", "o"})
STREAM_TYPES = frozenset({"v", "l"})
MAX_STRING_LENGTH = 64  # cid and sid are limited to 64 characters by the spec

HEADER_OF_KEY: Mapping[str, str] = {
    "br": "CMCD-Object",
    "d": "CMCD-Object",
    "ot": "CMCD-Object",
    "tb": "CMCD-Object",
    "bl": "CMCD-Request",
    "dl": "CMCD-Request",
    "mtp": "CMCD-Request",
    "nor": "CMCD-Request",
    "nrr": "CMCD-Request",
    "su": "CMCD-Request",
    "bs": "CMCD-Status",
    "rtp": "CMCD-Status",
    "cid": "CMCD-Session",
    "pr": "CMCD-Session",
    "sf": "CMCD-Session",
    "sid": "CMCD-Session",
    "st": "CMCD-Session",
    "v": "CMCD-Session",
}


class CmcdError(TelemetryError, ValueError):
    """A CMCD value outside what CTA-5004 allows."""


@dataclass(frozen=True, kw_only=True)
class CmcdData:
    """The CMCD keys abrkit sends, in natural units. ``None``/``False`` = not sent.

    Field (CMCD key, wire unit):
        bitrate_bps (br, kbps)             encoded bitrate of the requested object
        buffer_length_s (bl, ms /100)      current buffer level
        buffer_starvation (bs, bool)       the buffer ran dry since the last request
        content_id (cid, string)           title id
        object_duration_s (d, ms)          playback duration of the object
        measured_throughput_bps (mtp, kbps /100)
        next_object_request (nor, string)  relative URL of the likely next object
        object_type (ot, token)            m a v av i c tt k o
        session_id (sid, string)           playback session id
        stream_type (st, token)            v (VOD) or l (live)
        startup (su, bool)                 needed urgently for startup/seek/stall recovery
        top_bitrate_bps (tb, kbps)         highest bitrate the client may play
        version (v, int)                   CMCD version; 1 is the default and omitted
    """

    bitrate_bps: float | None = None
    buffer_length_s: float | None = None
    buffer_starvation: bool = False
    content_id: str | None = None
    object_duration_s: float | None = None
    measured_throughput_bps: float | None = None
    next_object_request: str | None = None
    object_type: str | None = None
    session_id: str | None = None
    stream_type: str | None = None
    startup: bool = False
    top_bitrate_bps: float | None = None
    version: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            is_number = isinstance(value, float | int) and not isinstance(value, bool)
            if is_number and (not math.isfinite(value) or value < 0):
                raise CmcdError(f"CMCD {f.name} must be a finite number >= 0, got {value!r}")
        if self.object_type is not None and self.object_type not in OBJECT_TYPES:
            raise CmcdError(
                f"CMCD object_type (ot) must be one of {sorted(OBJECT_TYPES)}, "
                f"got {self.object_type!r}"
            )
        if self.stream_type is not None and self.stream_type not in STREAM_TYPES:
            raise CmcdError(f"CMCD stream_type (st) must be 'v' or 'l', got {self.stream_type!r}")
        for name in ("content_id", "session_id"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_STRING_LENGTH:
                raise CmcdError(f"CMCD {name} must be at most {MAX_STRING_LENGTH} characters")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise CmcdError(f"CMCD version must be an int >= 1, got {self.version!r}")


def _kbps(bps: float) -> int:
    return int(round(bps / 1000.0))


def _round_to(value: float, step: int) -> int:
    return int(round(value / step)) * step


def _quote_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_pairs(data: CmcdData) -> dict[str, str | None]:
    """Key -> serialised value (``None`` for a bare boolean key), only keys to send."""
    out: dict[str, str | None] = {}
    if data.bitrate_bps is not None:
        out["br"] = str(_kbps(data.bitrate_bps))
    if data.buffer_length_s is not None:
        out["bl"] = str(_round_to(data.buffer_length_s * 1000.0, 100))
    if data.buffer_starvation:
        out["bs"] = None
    if data.content_id is not None:
        out["cid"] = _quote_string(data.content_id)
    if data.object_duration_s is not None:
        out["d"] = str(int(round(data.object_duration_s * 1000.0)))
    if data.measured_throughput_bps is not None:
        out["mtp"] = str(_round_to(data.measured_throughput_bps / 1000.0, 100))
    if data.next_object_request is not None:
        out["nor"] = _quote_string(data.next_object_request)
    if data.object_type is not None:
        out["ot"] = data.object_type
    if data.session_id is not None:
        out["sid"] = _quote_string(data.session_id)
    if data.stream_type is not None:
        out["st"] = data.stream_type
    if data.startup:
        out["su"] = None
    if data.top_bitrate_bps is not None:
        out["tb"] = str(_kbps(data.top_bitrate_bps))
    if data.version != 1:
        out["v"] = str(data.version)
    return out


def _join(pairs: Mapping[str, str | None]) -> str:
    return ",".join(k if v is None else f"{k}={v}" for k, v in sorted(pairs.items()))


def encode_payload(data: CmcdData) -> str:
    """The CMCD payload string, e.g. ``br=3200,bs,d=4004,ot=v,sid="6e2f..."``."""
    return _join(encode_pairs(data))


def to_query(data: CmcdData) -> str:
    """``CMCD=<url-encoded payload>`` for a query string; ``""`` if nothing to send."""
    payload = encode_payload(data)
    if not payload:
        return ""
    return "CMCD=" + quote(payload, safe="")


def to_headers(data: CmcdData) -> dict[str, str]:
    """The ``CMCD-Object/Request/Session/Status`` headers; empty headers are left out."""
    groups: dict[str, dict[str, str | None]] = {}
    for key, value in encode_pairs(data).items():
        groups.setdefault(HEADER_OF_KEY[key], {})[key] = value
    return {header: _join(pairs) for header, pairs in sorted(groups.items())}


def add_to_url(url: str, data: CmcdData) -> str:
    """``url`` with the CMCD query fragment appended (after any existing query)."""
    fragment = to_query(data)
    if not fragment:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{fragment}" if parts.query else fragment
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
