"""Entry-point layer: turns a request (CLI options or a study spec) into runs of the library."""
