"""The operator's ledger pages and the ledger's jobs: totals per kind, recent entries, stored
reconciliation runs with a difference shown loudly, fee rules edited through the form; the
`townsquare payments settle|reconcile` commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from typer.testing import CliRunner

from tests.merchants.conftest import csrf, login
from tests.payments import ledger_world
from tests.payments.ledger_world import Shop, pay, refund
from townsquare.core.clock import clock
from townsquare.payments import fees
from townsquare.payments.ledger import accounts, jobs
from townsquare.payments.ledger.models import LedgerAccount

shop = ledger_world.shop  # the fixture


def _tamper(database, code: str, by: int) -> None:
    with database.unit_of_work() as db:
        db.execute(update(LedgerAccount).where(LedgerAccount.code == code)
                   .values(balance_fen=LedgerAccount.balance_fen + by))


def test_the_ledger_page_shows_totals_entries_and_a_difference_loudly(client, database,
                                                                      shop: Shop):
    with database.unit_of_work() as db:
        pay(db, shop, 2_500, "T-PAGE")
    login(client, shop.operator)
    page = client.get("/console/operator/ledger")
    assert page.status_code == 200 and "账本" in page.text and "T-PAGE" in page.text
    assert 'data-kind="merchant_pending"' in page.text and "¥24.85" in page.text
    assert "尚未进行过对账" in page.text and "reconciliation-alarm" not in page.text
    done = client.post("/console/operator/ledger/reconcile",
                       data={"csrf_token": csrf(client, "/console/operator/ledger")})
    assert done.status_code == 200 and "对账已完成" in done.text and 'data-sound="yes"' in done.text
    _tamper(database, accounts.PLATFORM_FEES, 7)  # someone edited a balance behind the ledger
    jobs.run_reconciliation(database)
    page = client.get("/console/operator/ledger?lang=en")
    assert 'id="reconciliation-alarm"' in page.text and "The ledger does not reconcile" in page.text
    assert "platform:fees" in page.text and 'data-sound="no"' in page.text
    assert "DIFFERENCE" in page.text


def test_only_operators_see_the_ledger(client, shop: Shop):
    login(client, shop.owner)
    assert client.get("/console/operator/ledger").status_code == 403
    assert client.get("/console/operator/fees").status_code == 403


def test_the_operator_sets_fee_rates_through_the_form(client, database, shop: Shop):
    login(client, shop.operator)
    token = csrf(client, "/console/operator/fees")
    saved = client.post("/console/operator/fees",
                        data={"csrf_token": token, "category": "locksmith", "rate_bp": "150"})
    assert saved.status_code == 200 and "费率已保存" in saved.text
    refused = client.post("/console/operator/fees",
                          data={"csrf_token": token, "category": "", "rate_bp": "5000"})
    assert refused.status_code == 422 and "0 到 1000" in refused.text
    client.post("/console/operator/fees", data={"csrf_token": token, "category": "",
                                                 "rate_bp": "80"})
    with database.unit_of_work() as db:
        assert fees.platform_rate_bp(db, category_id=shop.other_category_id) == 150
        assert fees.platform_rate_bp(db, category_id=shop.category_id) == 80
    client.post("/console/operator/fees", data={"csrf_token": token, "category": "locksmith",
                                                 "rate_bp": ""})
    with database.unit_of_work() as db:
        assert fees.platform_rate_bp(db, category_id=shop.other_category_id) == 80


def test_the_cli_settles_and_reconciles(database, shop: Shop, monkeypatch, tmp_path):
    from townsquare.core.settings import get_settings
    from townsquare.payments.cli import app

    monkeypatch.setenv("TOWNSQUARE_DATABASE_URL", database.url)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        clock.freeze(datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("Asia/Shanghai")))
        with database.unit_of_work() as db:
            pay(db, shop, 2_500, "T-CLI")
        clock.advance(timedelta(days=1))
        runner = CliRunner()
        settled = runner.invoke(app, ["settle"])
        assert settled.exit_code == 0 and "Settled 1 merchants" in settled.output
        assert "Settled 0 merchants" in runner.invoke(app, ["settle"]).output
        sound = runner.invoke(app, ["reconcile"])
        assert sound.exit_code == 0 and "holds together" in sound.output
        _tamper(database, accounts.merchant_available(shop.merchant_id), -5)
        broken = runner.invoke(app, ["reconcile"])
        assert broken.exit_code == 1 and "DOES NOT RECONCILE" in broken.output
        assert f"merchant:{shop.merchant_id}:available" in broken.output
    finally:
        get_settings.cache_clear()


def test_the_owner_binds_a_card_and_withdraws_from_the_funds_page(client, database, settings,
                                                                  shop: Shop):
    clock.freeze(datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("Asia/Shanghai")))
    with database.unit_of_work() as db:
        pay(db, shop, 10_000, "T-FUNDS")
    clock.advance(timedelta(days=1))
    from townsquare.payments.ledger import settlement

    list(settlement.run(database, settings=settings))
    url = f"/console/merchant/{shop.merchant}/funds"
    login(client, shop.owner)
    page = client.get(url)
    assert page.status_code == 200 and "资金与提现" in page.text
    assert 'data-available="9940"' in page.text and "60 bp" in page.text
    token = csrf(client, url)
    no_card = client.post(f"{url}/withdraw", data={"csrf_token": token, "amount": "10.00",
                                                   "request_key": "k1"})
    assert no_card.status_code == 409 and "请先添加提现银行卡" in no_card.text
    bound = client.post(f"{url}/card", data={"csrf_token": token,
                                             "card_number": "6222020000000007"})
    assert bound.status_code == 200 and "提现银行卡已保存" in bound.text
    assert "6222020000000007" not in bound.text
    too_much = client.post(f"{url}/withdraw", data={"csrf_token": token, "amount": "99.41",
                                                    "request_key": "k2"})
    assert too_much.status_code == 409 and 'value="99.41"' in too_much.text
    paid = client.post(f"{url}/withdraw", data={"csrf_token": token, "amount": "40.00",
                                                "request_key": "k3"})
    assert paid.status_code == 200 and "提现已打入您的银行卡" in paid.text
    again = client.post(f"{url}/withdraw", data={"csrf_token": token, "amount": "40.00",
                                                 "request_key": "k3"})  # sent twice
    assert 'data-available="5940"' in again.text
    assert again.text.count('data-status="succeeded"') == 1
    royalty = client.post(f"{url}/royalties/{shop.authorization}",
                          data={"csrf_token": token, "rate_bp": "100"})
    assert royalty.status_code == 200 and "分账比例已保存" in royalty.text
    login(client, shop.other_owner)  # another merchant's owner sees nothing of it
    assert client.get(url).status_code in (403, 404)


def test_the_isv_sees_its_commission_per_merchant(client, database, shop: Shop):
    with database.unit_of_work() as db:
        fees.set_royalty_rate(db, actor=shop.owner, merchant_id=shop.merchant,
                              authorization_id=shop.authorization, rate_bp=100)
    with database.unit_of_work() as db:
        first = pay(db, shop, 2_500, "T-ISV-1")  # royalty 25
        pay(db, shop, 10_000, "T-ISV-2")  # royalty 100
        refund(db, shop, first, 1_000, 0, "T-ISV-1")  # gives back 10
    url = f"/console/isv/{shop.provider}/commission"
    login(client, shop.isv_staff)
    page = client.get(url)
    assert page.status_code == 200 and "已得佣金" in page.text
    assert 'data-balance="115"' in page.text
    assert f'data-merchant="{shop.merchant}" data-net="115"' in page.text
    assert "¥125.00" not in page.text and "¥1.25" in page.text and "¥0.10" in page.text
    login(client, shop.owner)  # a merchant is not the ISV
    assert client.get(url).status_code == 403
