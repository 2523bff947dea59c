"""Licence windows per title and country.

Rules are a mapping (loaded from JSON or given in code)::

    {
      "default": {"windows": [{"countries": "*"}]},      optional; used for
                                                          titles not listed
      "titles": {
        "demo": {"windows": [
          {"countries": ["US", "CA"], "start": "2024-01-01", "end": "2030-01-01"},
          {"countries": ["GB"], "start": "2026-06-01T00:00:00Z",
           "devices": ["tv", "desktop"]}
        ]}
      }
    }

``countries`` is a list of ISO 3166-1 alpha-2 codes or ``"*"``; ``start``
is inclusive, ``end`` exclusive, both optional (ISO date or date-time, UTC
when no offset). ``devices`` optionally limits device classes. A title
with no rule and no ``default`` is licensed everywhere; ``rules=None``
licenses everything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import ServerError

__all__ = ["CatalogRules", "LicenceDecision", "RulesError"]


class RulesError(ServerError):
    """The catalog rules are malformed (``where`` is the JSON path)."""


@dataclass(frozen=True)
class Window:
    countries: frozenset[str] | None  # None = everywhere
    start: dt.datetime | None
    end: dt.datetime | None
    devices: frozenset[str] | None


@dataclass(frozen=True)
class LicenceDecision:
    allowed: bool
    reason: str


def _when(v: Any, where: str) -> dt.datetime | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise RulesError(f"{where}: expected an ISO date string, got {v!r}")
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RulesError(f"{where}: not an ISO date/date-time: {v!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _windows(spec: Any, where: str) -> tuple[Window, ...]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("windows"), list):
        raise RulesError(f"{where}: expected {{'windows': [...]}}")
    out = []
    for i, w in enumerate(spec["windows"]):
        wh = f"{where}.windows[{i}]"
        if not isinstance(w, Mapping):
            raise RulesError(f"{wh}: expected an object")
        c = w.get("countries", "*")
        if c == "*":
            countries = None
        elif isinstance(c, list) and all(isinstance(x, str) for x in c):
            countries = frozenset(x.upper() for x in c)
        else:
            raise RulesError(f"{wh}.countries: expected '*' or a list of country codes")
        d = w.get("devices")
        if d is not None and not (isinstance(d, list) and all(isinstance(x, str) for x in d)):
            raise RulesError(f"{wh}.devices: expected a list of device classes")
        out.append(
            Window(
                countries,
                _when(w.get("start"), f"{wh}.start"),
                _when(w.get("end"), f"{wh}.end"),
                frozenset(d) if d is not None else None,
            )
        )
    return tuple(out)


class CatalogRules:
    def __init__(self, rules: Mapping[str, Any] | None) -> None:
        self._titles: dict[str, tuple[Window, ...]] = {}
        self._default: tuple[Window, ...] | None = None
        if rules is None:
            return
        if not isinstance(rules, Mapping):
            raise RulesError("rules: expected an object")
        if "default" in rules:
            self._default = _windows(rules["default"], "default")
        titles = rules.get("titles", {})
        if not isinstance(titles, Mapping):
            raise RulesError("titles: expected an object")
        for name, spec in titles.items():
            self._titles[name] = _windows(spec, f"titles.{name}")

    @classmethod
    def load(cls, path: str | Path) -> CatalogRules:
        try:
            return cls(json.loads(Path(path).read_text()))
        except OSError as exc:
            raise RulesError(f"{path}: cannot read rules: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise RulesError(f"{path}:{exc.lineno}: bad JSON: {exc.msg}") from exc

    def check(
        self, title: str, country: str, device_class: str, now: dt.datetime
    ) -> LicenceDecision:
        windows = self._titles.get(title, self._default)
        if windows is None:
            return LicenceDecision(True, "no rules for this title")
        country = country.upper()
        here = [w for w in windows if w.countries is None or country in w.countries]
        if not here:
            return LicenceDecision(False, f"{title!r} is not licensed in {country}")
        for w in here:
            if w.start is not None and now < w.start:
                continue
            if w.end is not None and now >= w.end:
                continue
            if w.devices is not None and device_class not in w.devices:
                continue
            return LicenceDecision(True, f"licensed in {country}")
        starts = sorted(w.start for w in here if w.start is not None and now < w.start)
        if starts:
            return LicenceDecision(
                False, f"{title!r} licence window in {country} opens {starts[0].isoformat()}"
            )
        if any(w.end is not None and now >= w.end for w in here):
            ends = max(w.end for w in here if w.end is not None)
            return LicenceDecision(
                False, f"{title!r} licence in {country} ended {ends.isoformat()}"
            )
        return LicenceDecision(
            False, f"{title!r} is not licensed in {country} on device class {device_class!r}"
        )
