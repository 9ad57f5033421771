"""Metric registry: name -> pure scoring function plus how to read and combine its values.

Every metric returns a dict of numbers on XTREME's 0-100 scale (accuracy 75.0, not 0.75), so values
from our scorers and from published XTREME/XTREME-R tables can be compared directly.
"""

from __future__ import annotations

import difflib
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from xstilts.errors import XstiltsError

#: How values of one metric combine across languages (or seeds). XTREME macro-averages languages.
AGGREGATIONS: Mapping[str, Callable[[Sequence[float]], float]] = {
    "mean": statistics.fmean,
    "median": statistics.median,
}


class UnknownMetricError(XstiltsError, KeyError):
    """A metric name that nobody registered (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


@dataclass(frozen=True)
class Metric:
    """A registered metric: `fn(predictions, references, **options) -> {key: value}`."""

    name: str
    fn: Callable[..., dict[str, float]]
    main: str
    higher_is_better: bool
    aggregation: str
    implementation: str = ""  # which code computes it, where that can change the number (rows record it)

    def __call__(self, predictions, references, **options) -> dict[str, float]:
        return self.fn(predictions, references, **options)

    def aggregate(self, values: Sequence[float]) -> float:
        """Combine per-language values of the main key with the declared aggregation."""
        if not values:
            raise ValueError(f"metric '{self.name}': nothing to aggregate")
        return AGGREGATIONS[self.aggregation](values)


_REGISTRY: dict[str, Metric] = {}


def register(name: str, *, main: str, higher_is_better: bool = True, aggregation: str = "mean",
             implementation: str = ""):
    """Decorator: register `fn` under `name`; a second registration of the same name fails."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"metric '{name}': unknown aggregation '{aggregation}' (known: {sorted(AGGREGATIONS)})")

    def decorate(fn):
        if name in _REGISTRY:
            raise ValueError(f"metric '{name}' is already registered (by {_REGISTRY[name].fn.__qualname__})")
        _REGISTRY[name] = Metric(name, fn, main, higher_is_better, aggregation, implementation)
        return fn

    return decorate


def get_metric(name: str) -> Metric:
    """The metric called `name`; unknown names raise with 'did you mean' suggestions."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownMetricError(f"unknown metric '{name}'{hint} (known: {', '.join(sorted(_REGISTRY))})") from None


def metric_names() -> list[str]:
    """All registered names, sorted."""
    return sorted(_REGISTRY)


def check_lengths(predictions: Sequence, references: Sequence, what: str) -> None:
    """Raise ValueError unless both sides are non-empty and aligned (the official scripts divide by zero)."""
    if len(predictions) != len(references):
        raise ValueError(f"{what}: {len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError(f"{what}: no examples to score")
