"""Leases kept alive: one background thread renews every lease a runner holds (a node silent for a
lease's time is taken over), and a runner of this machine whose process is gone is known dead at once."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from xstilts.store import Lease


class Heartbeat:
    """One background thread renewing every lease this runner holds; remembers lost ones."""

    def __init__(self, store: Any, ttl: float):
        self.store, self.period = store, ttl / 4
        self.leases: dict[str, Lease] = {}
        self.lost: set[str] = set()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._beat, name="xstilts-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def hold(self, lease: Lease) -> None:
        with self._lock:
            self.leases[lease.key] = lease

    def release(self, key: str) -> bool:
        """Stop renewing KEY's lease; False when it was lost while held."""
        with self._lock:
            self.leases.pop(key, None)
            return key not in self.lost

    def _beat(self) -> None:
        while not self._stop.wait(self.period):
            with self._lock:
                leases = list(self.leases.values())
            for lease in leases:
                try:
                    held = self.store.renew(lease)
                except Exception:  # noqa: BLE001 - a store hiccup: the next beat tries again
                    continue
                if not held:
                    with self._lock:
                        self.lost.add(lease.key)


def is_dead(owner: str | None) -> bool:
    """True for a runner of this machine whose process is gone (its lease need not expire first)."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. another user's process: alive
        return False
    return False
