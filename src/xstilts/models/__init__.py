"""Encoders (hub id, local directory, or the bundled me5-small) and task heads."""
