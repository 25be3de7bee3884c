"""Which delivery adapters exist in this process: the third-party providers configured in
`Settings` (built once per configuration, so their HTTP clients keep their connections), plus
adapters installed at run time (the demo's in-process simulators, the tests' servers).

The shop's own riders (`self`) are not here: that adapter works on the request's database
session, so dispatch builds it per call (`delivery.riders.SelfAdapter`)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from townsquare.core.settings import Settings
from townsquare.delivery.adapters.base import Adapter

# ---------------------------------------------------------------------------------------------
# Third-party providers (owned by the delivery-couriers work): provider name → "module:function".
# The function takes `Settings` and returns the provider's Adapter, or None when the provider is
# not configured (no TOWNSQUARE_DELIVERY_<PROVIDER>_URL). A module that does not exist yet is
# skipped.
PROVIDERS: dict[str, str] = {
    "doordash": "townsquare.delivery.adapters.doordash:from_settings",
    "uber": "townsquare.delivery.adapters.uber:from_settings",
    "dada": "townsquare.delivery.adapters.dada:from_settings",
    "open_delivery": "townsquare.delivery.adapters.open_delivery:from_settings",
}
# ---------------------------------------------------------------------------------------------

SELF = "self"

_lock = threading.Lock()
_configured: dict[tuple[Any, ...], dict[str, Adapter]] = {}
_installed: dict[str, Adapter] = {}


def _factory(target: str) -> Callable[[Settings], Adapter | None] | None:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    factory: Callable[[Settings], Adapter | None] = getattr(module, attribute)
    return factory


def _key(settings: Settings) -> tuple[Any, ...]:
    return tuple(
        (name, repr(value))
        for name, value in sorted(settings.model_dump().items())
        if name.startswith("delivery_")
    )


def configured(settings: Settings) -> dict[str, Adapter]:
    """The third-party adapters `settings` configure (built once per configuration)."""
    key = _key(settings)
    with _lock:
        found = _configured.get(key)
        if found is not None:
            return found
    built: dict[str, Adapter] = {}
    for name, target in PROVIDERS.items():
        factory = _factory(target)
        adapter = factory(settings) if factory else None
        if adapter is not None:
            built[name] = adapter
    with _lock:
        return _configured.setdefault(key, built)


def adapters(settings: Settings) -> dict[str, Adapter]:
    """Every third-party adapter available: the configured ones, overridden by installed ones."""
    found = dict(configured(settings))
    with _lock:
        found.update(_installed)
    return found


def install(adapter: Adapter) -> None:
    """Make `adapter` available under its name in this process (over a configured one)."""
    if adapter.name == SELF:
        raise ValueError("the self-delivery adapter is built per session by dispatch")
    with _lock:
        _installed[adapter.name] = adapter


def uninstall(name: str) -> None:
    with _lock:
        _installed.pop(name, None)


@contextmanager
def installed(*found: Adapter) -> Iterator[None]:
    """Install adapters for the length of a block (tests, benchmarks)."""
    for adapter in found:
        install(adapter)
    try:
        yield
    finally:
        for adapter in found:
            uninstall(adapter.name)


def reset() -> None:
    """Forget built and installed adapters (tests)."""
    with _lock:
        _configured.clear()
        _installed.clear()
