"""Stores: addresses, hours, closed days, delivery zones and community pickup points."""
