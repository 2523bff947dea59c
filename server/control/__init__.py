"""The control plane: playback grants, steering, telemetry, QoE, resume positions."""

from server.control.app import ControlPlane
from server.control.catalog_rules import CatalogRules, RulesError
from server.control.tokens import SessionToken, TokenError, sign_token, verify_token

__all__ = [
    "CatalogRules",
    "ControlPlane",
    "RulesError",
    "SessionToken",
    "TokenError",
    "sign_token",
    "verify_token",
]
