"""The registry builds the courier adapters from settings, and they reach the simulators."""

from __future__ import annotations

from townsquare.core.settings import Settings
from townsquare.delivery.adapters import registry
from townsquare.delivery.adapters.dada import DadaAdapter
from townsquare.delivery.adapters.doordash import DoorDashAdapter
from townsquare.delivery.adapters.open_delivery import OpenDeliveryAdapter
from townsquare.delivery.adapters.uber import UberAdapter
from townsquare.delivery.simulators import start_all, stop_all

from .conftest import PACE, make_parcel


def test_unconfigured_providers_are_not_offered():
    built = registry.configured(Settings(_env_file=None))
    assert not {"doordash", "uber", "dada", "open_delivery"} & set(built)


def test_start_all_gives_settings_that_reach_every_simulator():
    fields, sims = start_all("http://127.0.0.1:9", pace=PACE)
    try:
        settings = Settings(_env_file=None, **fields)
        built = registry.configured(settings)
        assert isinstance(built["doordash"], DoorDashAdapter)
        assert isinstance(built["uber"], UberAdapter)
        assert isinstance(built["dada"], DadaAdapter)
        assert isinstance(built["open_delivery"], OpenDeliveryAdapter)
        assert built["dada"].callback_url == "http://127.0.0.1:9/delivery/webhooks/dada"
        assert sims["uber"].webhook_url == "http://127.0.0.1:9/delivery/webhooks/uber"
        for name in ("doordash", "uber", "dada", "open_delivery"):
            quote = built[name].quote(make_parcel())
            assert quote.provider == name and quote.fee_fen > 0
    finally:
        stop_all(sims)
        registry.reset()
