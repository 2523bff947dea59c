"""Sub-commands of the abrkit command line that belong to the reference server."""
