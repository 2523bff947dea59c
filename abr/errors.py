"""Errors raised by the abr package.

    AbrError               root
     └── PolicyConfigError  a policy or its configuration is invalid (unknown name, bad value)
"""


class AbrError(Exception):
    """Root of every error the abr package raises."""


class PolicyConfigError(AbrError, ValueError):
    """A policy name or configuration value is invalid; the message names it."""
