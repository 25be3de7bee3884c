"""Per-app call limits: a token bucket per (app, capability package), so one app's burst on one
package neither starves its other packages nor anyone else.

Limits are `rate` calls a second with bursts of `burst`, per package, from the setting
`TOWNSQUARE_GATEWAY_RATE_LIMITS` over the defaults below: comma-separated `package=rate[:burst]`
items (`*=` for every package), and `<app_id>/<package>=rate[:burst]` for an operator's
override of one app (`0` rate: that package is closed to the app). A call over its limit
answers 40005 `isv.app-call-limited` (Alipay's code for an app calling too often), signed and
HTTP 200 like every answer.

The buckets live in this process: with several workers each keeps its own, so an app may make
up to (workers x limit) calls; `docs/open-platform.md` says so. Buckets are kept for the apps
that called recently; a full bucket is the same as no bucket, so those are the ones dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from townsquare.gateway.methods import PACKAGES
from townsquare.gateway.protocol.errors import GatewayFailure

MAX_BUCKETS = 50_000


@dataclass(frozen=True)
class Limit:
    rate: float  # calls a second, refilled continuously
    burst: int  # calls at once after a quiet spell

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1:
            raise ValueError("a limit needs a rate >= 0 and a burst >= 1")


# What an app gets per package unless configured otherwise: reads are cheap, messages reach
# people, payments and deliveries cost money downstream.
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "identity": Limit(20, 40),
    "payment": Limit(20, 40),
    "messaging": Limit(10, 20),
    "delivery": Limit(10, 20),
    "marketing": Limit(20, 40),
    "data": Limit(20, 40),
    "community": Limit(20, 40),
    "authorization": Limit(10, 20),
}


def _limit(text: str) -> Limit:
    rate_text, _, burst_text = text.partition(":")
    rate = float(rate_text)
    burst = int(burst_text) if burst_text else max(1, int(rate * 2))
    return Limit(rate, burst)


def parse(text: str) -> tuple[dict[str, Limit], dict[tuple[str, str], Limit]]:
    """The setting as (per-package limits, per-(app id, package) overrides). Raises ValueError
    naming the item it cannot read: a typo must stop the server, not lift a limit."""
    packages = dict(DEFAULT_LIMITS)
    overrides: dict[tuple[str, str], Limit] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        app_id, slash, package = key.strip().rpartition("/")
        try:
            if not sep or (package != "*" and package not in PACKAGES):
                raise ValueError
            limit = _limit(value.strip())
        except ValueError:
            raise ValueError(f"TOWNSQUARE_GATEWAY_RATE_LIMITS: cannot read {item!r}") from None
        if slash:
            if not (app_id.isdigit() and len(app_id) == 16) or package == "*":
                raise ValueError(f"TOWNSQUARE_GATEWAY_RATE_LIMITS: cannot read {item!r}")
            overrides[(app_id, package)] = limit
        elif package == "*":
            packages = dict.fromkeys(PACKAGES, limit)
        else:
            packages[package] = limit
    return packages, overrides


class RateLimiter:
    """Token buckets keyed by (app id, package); thread-safe; time comes from the caller (the
    injectable clock), so tests move time instead of sleeping."""

    def __init__(self, text: str = "", *, max_buckets: int = MAX_BUCKETS) -> None:
        self.packages, self.overrides = parse(text)
        self._max_buckets = max_buckets
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # → (tokens, at)
        self._lock = threading.Lock()

    def limit_for(self, app_id: str, package: str) -> Limit:
        # a package without a default of its own (a new one) gets the strictest default
        return (self.overrides.get((app_id, package)) or self.packages.get(package)
                or Limit(10, 20))

    def limits_of(self, app_id: str) -> dict[str, Limit]:
        """Every package's limit for one app (what its console shows)."""
        return {package: self.limit_for(app_id, package) for package in PACKAGES}

    def take(self, app_id: str, package: str, now: datetime) -> float:
        """Spend one call; 0.0 if allowed, else the seconds until the next call would be."""
        limit = self.limit_for(app_id, package)
        if not limit.rate:
            return float("inf")
        at = now.timestamp()
        key = (app_id, package)
        with self._lock:
            tokens, last = self._buckets.get(key, (float(limit.burst), at))
            tokens = min(float(limit.burst), tokens + max(0.0, at - last) * limit.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, at)
                return (1.0 - tokens) / limit.rate
            self._buckets[key] = (tokens - 1.0, at)
            if len(self._buckets) > self._max_buckets:
                self._forget_full(at)
            return 0.0

    def _forget_full(self, at: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            limit = self.limit_for(*key)
            if tokens + (at - last) * limit.rate >= limit.burst:
                del self._buckets[key]

    def check(self, app_id: str, package: str, now: datetime) -> None:
        """Raise the protocol's refusal when the app is over its limit for the package."""
        wait = self.take(app_id, package, now)
        if wait:
            limit = self.limit_for(app_id, package)
            retry = "该能力包已对本应用关闭" if wait == float("inf") else f"请 {wait:.1f} 秒后重试"
            raise GatewayFailure(
                "40005", "isv.app-call-limited",
                f"应用调用「{package}」能力包的频率超限（每秒 {limit.rate:g} 次，"
                f"突发 {limit.burst} 次），{retry}",
            )
