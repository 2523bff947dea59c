"""abrkit server package."""
