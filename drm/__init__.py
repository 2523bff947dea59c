"""abrkit drm package."""
