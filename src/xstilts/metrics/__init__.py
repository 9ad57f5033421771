"""XTREME / XTREME-R metrics as pure functions, found by name through the registry.

Importing this package registers every metric. Values are on a 0-100 scale, as XTREME reports them.
"""

from xstilts.metrics import classification, qa, retrieval, tagging  # noqa: F401  (registers metrics)
from xstilts.metrics.registry import Metric, UnknownMetricError, get_metric, metric_names, register

__all__ = ["Metric", "UnknownMetricError", "get_metric", "metric_names", "register"]
