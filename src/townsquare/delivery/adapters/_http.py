"""What the third-party adapters share: one httpx client per adapter whose transport failures
become the interface's errors, and small parsing helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from townsquare.core.i18n import N_
from townsquare.delivery.adapters.base import DeliveryUnknown, ProviderError, ProviderTimeout


class ProviderHttp:
    """A synchronous HTTP client for one provider (thread-safe: httpx pools connections)."""

    def __init__(self, provider: str, base_url: str, timeout_s: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.provider = provider
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                   transport=transport)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kw)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # never reached the provider: nothing happened there
            raise ProviderError(N_("{provider} could not be reached."),
                                provider=self.provider) from exc
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(N_("{provider} did not answer in time."),
                                  provider=self.provider) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(N_("{provider} could not be reached."),
                                provider=self.provider) from exc

    def close(self) -> None:
        self.client.close()


def not_found(provider: str) -> DeliveryUnknown:
    """The provider has no delivery under our id (after a timed-out create: safe to retry)."""
    return DeliveryUnknown(N_("{provider} has no such delivery."), provider=provider)


def failed(provider: str, detail: str) -> ProviderError:
    return ProviderError(N_("{provider} failed: {detail}"), provider=provider,
                         detail=detail[:200])


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 / RFC 3339 time or a Unix timestamp, as an aware UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def event_id(prefix: str, *parts: Any) -> str:
    """A stable id for a webhook that carries none: the same event sent twice gets the same id."""
    return prefix + hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
