"""Results store: every score with its full protocol, keyed so reruns overwrite (STYLE rules 7, 8)."""

from xstilts.store.schema import NodeRow, ResultRow
from xstilts.store.store import LEASE_SECONDS, Lease, ResultsStore, default_url

__all__ = ["LEASE_SECONDS", "Lease", "NodeRow", "ResultRow", "ResultsStore", "default_url"]
