"""The bitrate ladder: rungs, the default ladder, parsing ``--ladder`` and fitting
a ladder to a source (never above the source resolution, aspect kept, even sizes).

Default rungs (H.264 High, video bitrate targets, AAC 128 kb/s on top):

    240p   400 kb/s      360p   800 kb/s     480p  1400 kb/s
    720p  2800 kb/s     1080p  5000 kb/s
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import PackagerError

__all__ = ["DEFAULT_LADDER", "Rung", "ScaledRung", "fit_ladder", "parse_ladder"]


@dataclass(frozen=True, slots=True)
class Rung:
    """A rung of the ladder: a target height (pixels) and video bitrate (bits per second)."""

    height: int
    bitrate: int

    @property
    def id(self) -> str:
        return f"{self.height}p"


@dataclass(frozen=True, slots=True)
class ScaledRung:
    """A rung fitted to a source: the real output size."""

    id: str
    width: int
    height: int
    bitrate: int


DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(240, 400_000),
    Rung(360, 800_000),
    Rung(480, 1_400_000),
    Rung(720, 2_800_000),
    Rung(1080, 5_000_000),
)

_DEFAULT_BITRATES = {r.height: r.bitrate for r in DEFAULT_LADDER}
_ITEM = re.compile(r"^(\d+)p(?::(\d+(?:\.\d+)?)([kKmM]?))?$")


def _default_bitrate(height: int) -> int:
    if height in _DEFAULT_BITRATES:
        return _DEFAULT_BITRATES[height]
    # roughly 0.1 bit per pixel at 30 fps for a 16:9 picture
    return max(100_000, int(round(height * height * 16 / 9 * 30 * 0.1, -4)))


def parse_ladder(spec: str) -> tuple[Rung, ...]:
    """Parse ``"240p:400k,360p,720p:2.8M"`` (bitrate optional: the default rung's).

    Raises :class:`PackagerError` on anything else.
    """
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise PackagerError("empty ladder", where="--ladder")
    rungs: list[Rung] = []
    for item in items:
        m = _ITEM.match(item)
        if not m:
            raise PackagerError(
                f"bad rung {item!r} (expected HEIGHTp or HEIGHTp:BITRATE, e.g. 360p:800k)",
                where="--ladder",
            )
        height = int(m.group(1))
        if height < 16 or height > 4320 or height % 2:
            raise PackagerError(f"bad rung height {height} (even, 16..4320)", where="--ladder")
        if m.group(2) is None:
            bitrate = _default_bitrate(height)
        else:
            mult = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(3).lower()]
            bitrate = int(float(m.group(2)) * mult)
        if bitrate < 10_000:
            raise PackagerError(f"bitrate of {item!r} too low (>= 10k)", where="--ladder")
        rungs.append(Rung(height, bitrate))
    return validate_ladder(rungs, where="--ladder")


def validate_ladder(
    rungs: tuple[Rung, ...] | list[Rung], where: str = "ladder"
) -> tuple[Rung, ...]:
    """Sorted by height; empty ladders, duplicate heights, odd or non-positive
    heights and non-positive bitrates are rejected."""
    if not rungs:
        raise PackagerError("empty ladder", where=where)
    for r in rungs:
        if not isinstance(r, Rung) or r.height <= 0 or r.bitrate <= 0 or r.height % 2:
            raise PackagerError(f"bad rung {r!r}", where=where)
    heights = [r.height for r in rungs]
    if len(set(heights)) != len(heights):
        raise PackagerError(f"duplicate rung heights in {heights}", where=where)
    return tuple(sorted(rungs, key=lambda r: r.height))


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def fit_ladder(
    rungs: tuple[Rung, ...], src_width: int, src_height: int, sar: float = 1.0
) -> tuple[ScaledRung, ...]:
    """The rungs that fit the source: heights above the source's are dropped, the
    aspect ratio (display aspect, ``sar`` included) is kept, sizes are even. If no
    rung fits, one rung at the source height (rounded down to even) with the
    lowest rung's bitrate is returned."""
    if src_width <= 0 or src_height <= 0:
        raise PackagerError(f"bad source size {src_width}x{src_height}")
    dar = src_width * (sar or 1.0) / src_height
    out: list[ScaledRung] = []
    for r in validate_ladder(rungs):
        if r.height > src_height:
            continue
        width = min(_even(r.height * dar), src_width - src_width % 2)
        out.append(ScaledRung(r.id, width, r.height, r.bitrate))
    if not out:
        h = src_height - src_height % 2
        low = validate_ladder(rungs)[0]
        out.append(ScaledRung(f"{h}p", min(_even(h * dar), src_width - src_width % 2), h,
                              low.bitrate))
    return tuple(out)
