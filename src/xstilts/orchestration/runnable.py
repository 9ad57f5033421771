"""The checks of a spec that need its model: that it loads here, and that every probe's layers
exist in it. Run by `validate` and by `run` before any node (a hub id without network would
otherwise fail in every node, each after a minute of retries); `plan` and `report` skip them,
since they train and encode nothing."""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import ModelLoadError, ModelUnavailable
from xstilts.evaluation.encode import resolve_layers
from xstilts.orchestration.spec import ProbeTarget, Spec, locate


def model_problems(path: str | Path, spec: Spec, offline_ok: bool = False
                   ) -> tuple[list[tuple[int | None, str, str]], list[str]]:
    """(problems as (line, field, message), warnings): a model that cannot be loaded, else each
    probe layer it lacks. OFFLINE_OK (`xstilts validate`): a hub model this machine cannot reach
    is a warning, not a problem of the spec, and the layers are checked against its known config
    (xlm-roberta-base/-large) where there is one; `run` still refuses it."""
    from xstilts.orchestration.disk import KNOWN_CONFIGS
    from xstilts.models.available import model_layers

    warnings = []
    try:
        layers = model_layers(spec.model)
    except ModelUnavailable as e:
        if not offline_ok:
            return [(locate(path, ("model",)), "model", str(e))], []
        known = KNOWN_CONFIGS.get(spec.model, {}).get("num_hidden_layers")
        warnings.append(f"warning: {e}; `run` needs it. "
                        + (f"Probe layers checked against its known config ({known} layers)" if known
                           else "Probe layers not checked"))
        if known is None:
            return [], warnings
        layers = known
    except ModelLoadError as e:
        return [(locate(path, ("model",)), "model", str(e))], []
    problems = []
    for i, t in enumerate(spec.targets):
        if isinstance(t, ProbeTarget):
            try:
                resolve_layers(t.layers, layers)
            except ValueError as e:
                problems.append((locate(path, ("targets", i, "layers")), f"targets.{i}.layers",
                                 f"{e} for {spec.model}, which has {layers} layers"))
    return problems, warnings
