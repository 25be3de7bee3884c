"""Townsquare: an open-source super-app platform for local life services."""

__version__ = "0.1.0"
