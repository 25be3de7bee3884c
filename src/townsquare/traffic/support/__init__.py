"""Merchant support: growth stages, cold start, points and earning, campaigns, and promises of
exposure; their JSON API."""
