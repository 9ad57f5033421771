"""Orchestration: a spec resolved into a plan of typed nodes, checked (guard, disk), run by an
executor with the runners of each node kind, then reported and published. The only code that
knows node kinds."""
