"""Test doubles shared by several test modules."""

from tokenomy.cache import CacheTier


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class BrokenTier(CacheTier):
    """Raises on every call until ``healthy`` is set."""

    name = "broken"

    def __init__(self):
        self.healthy = False
        self.calls = 0
        self.entries = {}

    def _io(self):
        self.calls += 1
        if not self.healthy:
            raise ConnectionError("server down")

    def get(self, entry_id, now):
        self._io()
        return self.entries.get(entry_id)

    def search(self, partition, context, vector, k, now):
        self._io()
        return []

    def put(self, entry):
        self._io()
        self.entries[entry.id] = entry

    def delete(self, entry_id):
        self._io()

    def clear(self):
        self._io()

    def __len__(self):
        return len(self.entries)
