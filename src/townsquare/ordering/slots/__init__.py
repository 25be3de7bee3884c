"""Slots: when a store can hand over orders of each fulfilment kind, how many per slot, and the
holds that checkout takes on a slot place and on stock (see docs/ordering.md)."""
