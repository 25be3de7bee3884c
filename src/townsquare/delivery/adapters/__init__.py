"""Delivery adapters: the interface (`base`), the registry of providers in this process, and one
module per third-party provider."""
