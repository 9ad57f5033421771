"""A toy plan for the executor tests, importable by the child processes they start too."""

from xstilts.orchestration.plan import Node, Plan
from xstilts.provenance import stable_hash


def toy_plan(edges, kind="toy"):
    """label -> labels it depends on, in topological order."""
    keys = {label: stable_hash(["toy", label]) for label in edges}
    return Plan({keys[label]: Node(keys[label], kind, label, {"label": label}, tuple(keys[d] for d in deps))
                 for label, deps in edges.items()})
