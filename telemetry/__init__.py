"""abrkit telemetry package."""
