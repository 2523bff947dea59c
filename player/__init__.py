"""abrkit player package."""
