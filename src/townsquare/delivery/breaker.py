"""A circuit breaker per provider, per process (pure: the time is passed in).

Closed: calls go through; `failures` failures in a row open it. Open: the provider is skipped
until `open_s` have passed. Then half-open: one caller gets to try (`allow` says yes once); its
success closes the breaker, its failure opens it again for another `open_s`."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    open_until: float = 0.0
    trial: bool = False  # a half-open trial call is out


class Breakers:
    def __init__(self, *, failures: int = 3, open_s: float = 30.0) -> None:
        self.failures = max(1, failures)
        self.open_s = open_s
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def allow(self, provider: str, now: float) -> bool:
        """May a call go to `provider` now?"""
        with self._lock:
            state = self._states.setdefault(provider, _State())
            if state.failures < self.failures:
                return True
            if now < state.open_until or state.trial:
                return False
            state.trial = True  # half-open: this caller tries, the others wait
            return True

    def success(self, provider: str) -> None:
        with self._lock:
            self._states[provider] = _State()

    def failure(self, provider: str, now: float) -> None:
        with self._lock:
            state = self._states.setdefault(provider, _State())
            state.failures += 1
            state.trial = False
            if state.failures >= self.failures:
                state.open_until = now + self.open_s

    def is_open(self, provider: str, now: float) -> bool:
        with self._lock:
            state = self._states.get(provider)
            return bool(state and state.failures >= self.failures
                        and (now < state.open_until or state.trial))

    def reset(self) -> None:
        with self._lock:
            self._states.clear()
