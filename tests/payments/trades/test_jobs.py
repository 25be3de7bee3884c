"""The trades' periodic job: unpaid trades past their timeout close and are notified; paid ones
finish when the refund period ends; the CLI runs the same job; the server's scheduler thread
runs it on its interval."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from tests.payments.trades import trade_world
from townsquare.core.clock import clock
from townsquare.gateway.models import Notification
from townsquare.payments.trades import jobs, service
from townsquare.payments.trades.models import TradeStatus

NOTIFY = "http://merchant.example/notify"


def test_due_trades_close_and_finish(database, settings, make_user, monkeypatch):
    world = trade_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        unpaid = trade_world.create(db, world, "J-1", timeout_minutes=10, notify_url=NOTIFY)
        waiting = trade_world.create(db, world, "J-2", timeout_minutes=60)
        paid = trade_world.create(db, world, "J-3", timeout_minutes=10, notify_url=NOTIFY)
        trade_world.pay(db, paid.trade_no, world.resident.id)
    clock.freeze(clock.now() + timedelta(minutes=11))
    assert jobs.run_due(database, settings) == jobs.Due(closed=1, finished=0)
    assert jobs.run_due(database, settings) == jobs.Due(closed=0, finished=0)
    clock.freeze(clock.now() + timedelta(days=settings.trade_refund_days))
    from typer.testing import CliRunner

    from townsquare.cli import app
    from townsquare.core.settings import get_settings

    monkeypatch.setenv("TOWNSQUARE_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["trades", "due"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Closed 1" in result.output and "finished 1" in result.output  # J-2 timed out too
    with database.unit_of_work() as db:
        assert service.get(db, unpaid.trade_no).status == TradeStatus.TRADE_CLOSED
        assert service.get(db, waiting.trade_no).status == TradeStatus.TRADE_CLOSED
        assert service.get(db, paid.trade_no).status == TradeStatus.TRADE_FINISHED
        sent = [(n.params["out_trade_no"], n.params["trade_status"])
                for n in db.scalars(select(Notification).order_by(Notification.id))]
    assert sent == [("J-3", "TRADE_SUCCESS"), ("J-1", "TRADE_CLOSED"), ("J-3", "TRADE_FINISHED")]


def test_the_scheduler_thread_runs_the_job(database, settings, make_user):
    world = trade_world.build(database, settings, make_user, wallet_fen=0)
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world, "J-9", timeout_minutes=1)
    clock.freeze(clock.now() + timedelta(minutes=2))
    scheduler = jobs.start(database, settings.model_copy(update={"trade_jobs_interval_ms": 20}))
    assert scheduler is not None
    try:
        for _ in range(250):  # polls for the outcome; the test measures no time
            with database.unit_of_work() as db:
                if service.get(db, trade.trade_no).status == TradeStatus.TRADE_CLOSED:
                    break
            time.sleep(0.02)
    finally:
        scheduler.stop()
    with database.unit_of_work() as db:
        assert service.get(db, trade.trade_no).status == TradeStatus.TRADE_CLOSED
    assert jobs.start(database, settings.model_copy(update={"trade_jobs_interval_ms": 0})) is None
