"""Sub-commands of the abrkit command line."""
