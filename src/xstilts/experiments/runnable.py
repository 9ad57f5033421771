"""The checks of a spec that need its model: that it loads here, and that every probe's layers
exist in it. Run by `validate` and by `run` before any node (a hub id without network would
otherwise fail in every node, each after a minute of retries); `plan` and `report` skip them,
since they train and encode nothing."""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import ModelLoadError
from xstilts.evaluation.encode import resolve_layers
from xstilts.experiments.spec import ProbeTarget, Spec, locate


def model_problems(path: str | Path, spec: Spec) -> list[tuple[int | None, str, str]]:
    """(line, field, message) for a model that cannot be loaded, else for each probe layer it lacks."""
    from xstilts.models.available import model_layers

    try:
        layers = model_layers(spec.model)
    except ModelLoadError as e:
        return [(locate(path, ("model",)), "model", str(e))]
    problems = []
    for i, t in enumerate(spec.targets):
        if isinstance(t, ProbeTarget):
            try:
                resolve_layers(t.layers, layers)
            except ValueError as e:
                problems.append((locate(path, ("targets", i, "layers")), f"targets.{i}.layers",
                                 f"{e} for {spec.model}, which has {layers} layers"))
    return problems
