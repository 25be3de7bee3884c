"""Local simulators of the courier providers' sides (DoorDash Drive v2, Uber Direct, 达达 Dada,
Open Delivery): real HTTP servers on loopback with couriers moving through the demo city and
fault switches.
Started by the tests (`start(port=0)` in each module) and by the demo (`start_all`, or
`python -m townsquare.delivery.simulators.<name> --port N`)."""

from __future__ import annotations

from typing import Any

from townsquare.delivery.simulators.base import Simulator


def start_all(base_url: str, *, pace: float = 0.2, ports: dict[str, int] | None = None
              ) -> tuple[dict[str, Any], dict[str, Simulator]]:
    """Start the four simulators in this process, their webhooks going to Townsquare at
    `base_url` (/delivery/webhooks/<provider>). Returns the `Settings` fields that point the
    adapters at them (TOWNSQUARE_DELIVERY_* for doordash, uber, dada and open_delivery, and
    `base_url`, which is Dada's callback) and the simulators by provider name (their fault
    switches)."""
    from townsquare.delivery.simulators import dada, doordash, open_delivery, uber

    ports = ports or {}
    root = base_url.rstrip("/")
    fields: dict[str, Any] = {"base_url": root}
    sims: dict[str, Simulator] = {}
    for name, module in (("doordash", doordash), ("uber", uber), ("dada", dada),
                         ("open_delivery", open_delivery)):
        url, sim = module.start(port=ports.get(name, 0), pace=pace,
                                webhook_url=f"{root}/delivery/webhooks/{name}")
        fields.update(module.demo_settings(url))
        sims[name] = sim
    return fields, sims


def stop_all(sims: dict[str, Simulator]) -> None:
    for sim in sims.values():
        sim.stop()


__all__ = ["Simulator", "start_all", "stop_all"]
