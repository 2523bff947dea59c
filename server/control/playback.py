"""Playback grants: validate the request, check the licence, sign a session.

Grant JSON (200)::

    {
      "title": "demo",
      "session_id": "3f9c...",
      "token": "v1.<payload>.<sig>",          HMAC-SHA256, see server.control.tokens
      "expires_at": 1767225600,                Unix seconds
      "manifest_url": "<hls url on the top pathway>",
      "manifests": {"hls": "...", "dash": "..."},   on the top pathway
      "pathways": [                            ranked, best first
        {"id": "edge-1", "base_url": "http://127.0.0.1:8101",
         "hls": ".../demo/master.m3u8", "dash": ".../demo/manifest.mpd"}, ...],
      "licence_url": "http://127.0.0.1:8100/licence/demo",
      "resume_at": 0.0,                        seconds, from the progress store
      "steering_uri": "http://127.0.0.1:8100/steering/demo?session=3f9c..."
    }

Errors: 404 ``unknown_title``; 403 ``not_licensed`` with a ``reason``;
422 ``invalid_request`` with ``reason`` and ``where``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from server.errors import ServerError

__all__ = ["GrantRequest", "RequestError", "parse_grant_request", "pathway_urls"]

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")
HLS_NAME = "master.m3u8"
DASH_NAME = "manifest.mpd"


class RequestError(ServerError):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class GrantRequest:
    country: str
    device_class: str
    account: str


def parse_grant_request(body: Any) -> GrantRequest:
    if not isinstance(body, dict):
        raise RequestError("body", "expected a JSON object {country, device_class, account?}")
    country = body.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise RequestError("country", "required ISO 3166-1 alpha-2 code such as 'US'")
    device = body.get("device_class")
    if not isinstance(device, str) or not _TOKEN.match(device):
        raise RequestError("device_class", "required string such as 'tv', 'mobile', 'desktop'")
    account = body.get("account", "anonymous")
    if not isinstance(account, str) or not _TOKEN.match(account):
        raise RequestError("account", "must be a string of 1-128 of [A-Za-z0-9_.@:-]")
    return GrantRequest(country.upper(), device, account)


def pathway_urls(
    edge_id: str, base_url: str, title: str, *, hls: str = HLS_NAME, dash: str = DASH_NAME
) -> dict[str, str]:
    """One pathway entry; ``hls``/``dash`` are the manifest names from catalog.json."""
    base = base_url.rstrip("/")
    return {
        "id": edge_id,
        "base_url": base,
        "hls": f"{base}/{title}/{hls}",
        "dash": f"{base}/{title}/{dash}",
    }
