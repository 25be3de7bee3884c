"""Configuration from TOWNSQUARE_* environment variables; the embedded default needs none."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOWNSQUARE_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    secret_key: str = ""  # empty: generated once and kept in data_dir/secret.key
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool = False

    # How long a SQLite writer waits for the write lock before the request answers 503.
    database_lock_timeout_ms: int = 5_000
    retry_after_seconds: int = 5  # Retry-After on a 503 while the database is unavailable
    # `townsquare serve --workers N`: how long a new worker may take to import and answer the
    # supervisor's health check before it is restarted (uvicorn's default of 5 s kills workers
    # that start slowly on a busy host).
    worker_healthcheck_timeout_s: int = 60

    session_hours: int = 24 * 7
    login_max_failures: int = 5
    login_lock_minutes: int = 15

    review_standard_hours: int = 72
    review_expedited_hours: int = 4

    launch_context_ttl_seconds: int = 300
    auth_code_ttl_seconds: int = 120

    # Payments, resident side (payments/wallet/): limits per payment and per local day (fen,
    # what a resident may pay from the wallet and cards together), the largest single top-up,
    # the payment PIN's lockout and how long a payment code (付款码) may be scanned.
    payment_limit_per_payment_fen: int = 5_000_00
    payment_limit_per_day_fen: int = 20_000_00
    wallet_top_up_max_fen: int = 50_000_00
    payment_pin_max_failures: int = 5
    payment_pin_lock_minutes: int = 180
    payment_code_ttl_seconds: int = 90

    health_retention_days: int = 30  # health declarations older than this are deleted
    messages_per_app_user_day: int = 5  # rate limit: one mini-app to one user per day

    # The product's cities: where to serve when a request names no city and no listed mini-app
    # names one yet, and the order of the city switch (the default city, these, then any other
    # city a mini-app names, by name).
    default_city: str = "武汉"
    city_order: tuple[str, ...] = ("武汉", "北京", "上海", "杭州", "深圳", "广州")

    # Serving (traffic/serving/): how often a process re-checks its cached snapshot (cards, plan,
    # bids) against the database; 0 = on every request.
    serving_refresh_ms: int = 1000
    # Exposures, delivered counters and bid impressions are written behind the response by a
    # per-process thread every this many ms; 0 = in the request's own transaction.
    exposure_flush_ms: int = 200
    # ... and as soon as this many exposure rows are waiting (bounds what a SIGKILL loses)
    exposure_flush_rows: int = 2_000
    exposure_buffer_max: int = 200_000  # buffered exposure rows kept while the database is down

    # At start, warm what the first requests would otherwise pay for (every route, the serving
    # snapshot, the search index, jieba). Off in the tests, whose thousand short-lived apps
    # would each pay for it.
    warm_up_at_start: bool = True

    # The open gateway's notifier: how often each serving process sends due notifications
    # (0 = not in the server; `townsquare gateway notify` then), and whether a notify_url may
    # reach private, loopback or link-local addresses (off in production: SSRF).
    gateway_notify_interval_ms: int = 2_000
    gateway_notify_private: bool = False
    # Alipay's retry schedule: the wait after each failed attempt in seconds (4m, 10m, 10m, 1h,
    # 2h, 6h, 15h: 8 tries over about 25 hours), and how long a notifier holds the notifications
    # it took before another may take them (one killed mid-send leaves them for that long).
    # Shortened only by tests.
    gateway_notify_schedule_s: tuple[float, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
    gateway_notify_lease_s: float = 60.0
    # The gateway's call log is written behind the response every this many ms (0: in the call's
    # own transaction, as the tests have it).
    gateway_call_log_flush_ms: int = 500
    # Per-app call limits of the gateway, over the defaults in gateway/limits.py: e.g.
    # "data=50:100,messaging=5" (calls a second[:burst] per package), "2026…/data=200:400" for
    # one app (an operator's override), "*=10" for every package.
    gateway_rate_limits: str = ""

    # Ordering: how often each serving process releases the slot places and stock of checkouts
    # whose hold expired unpaid (0 = not in the server; `townsquare ordering expire-holds` then).
    ordering_hold_expiry_interval_ms: int = 15_000
    # … and runs the order jobs (cancel paid orders not accepted in time, with a refund;
    # complete orders handed over two hours ago); 0 = `townsquare ordering order-jobs` from cron.
    ordering_order_jobs_interval_ms: int = 15_000

    # Payments' ledger: a merchant's pending money becomes available this many days after the
    # local day it was paid (T+1); withdrawals to a bank card are limited per withdrawal and per
    # merchant and local day (fen).
    settlement_delay_days: int = 1
    withdrawal_max_fen: int = 5_000_000
    withdrawal_daily_max_fen: int = 20_000_000

    # Payments' trades: each serving process closes unpaid trades past their timeout and finishes
    # paid ones whose refund period (days) is over every this many ms (0 = not in the server;
    # `townsquare trades due` from cron then).
    trade_jobs_interval_ms: int = 60_000
    trade_refund_days: int = 90

    # Delivery (delivery/, docs/delivery.md). Courier providers are configured per provider by
    # TOWNSQUARE_DELIVERY_<PROVIDER>_URL (empty: not offered) and its credentials: the account
    # (DoorDash developer id, Uber customer id, Dada source id …), key id, secret and webhook
    # secret as the provider names them (adapters/<provider>.py says which is which).
    delivery_http_timeout_s: float = 5.0  # per call to a provider
    delivery_doordash_url: str = ""
    delivery_doordash_account: str = ""
    delivery_doordash_key_id: str = ""
    delivery_doordash_secret: str = ""
    delivery_doordash_webhook_secret: str = ""
    delivery_uber_url: str = ""
    delivery_uber_account: str = ""
    delivery_uber_key_id: str = ""
    delivery_uber_secret: str = ""
    delivery_uber_webhook_secret: str = ""
    delivery_dada_url: str = ""
    delivery_dada_account: str = ""
    delivery_dada_key_id: str = ""
    delivery_dada_secret: str = ""
    delivery_dada_webhook_secret: str = ""
    delivery_open_delivery_url: str = ""
    delivery_open_delivery_account: str = ""
    delivery_open_delivery_key_id: str = ""
    delivery_open_delivery_secret: str = ""
    delivery_open_delivery_webhook_secret: str = ""
    # Failover: a provider that failed this many times in a row is skipped for this long
    # (circuit breaker, per process), then tried again by one request.
    delivery_breaker_failures: int = 3
    delivery_breaker_open_s: float = 30.0
    # How often each serving process asks providers about open deliveries whose last news is
    # older than delivery_poll_after_s (a missed webhook); 0 = not in the server
    # (`townsquare delivery poll` then).
    delivery_poll_interval_ms: int = 30_000
    delivery_poll_after_s: int = 60

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'townsquare.db').as_posix()}"

    @property
    def effective_secret_key(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
