"""Trades: what merchants' apps ask residents to pay, paid at most once, refunded at most what
was paid (`service` is the door: create, get, pay, refund, close, cancel)."""
