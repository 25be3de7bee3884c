"""The application factory: the composition root of the web. It includes every package's routers
(JSON API `routes`, HTML `pages`) into the shared platform of `web.app`, and registers what must
be flushed when the server stops."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from townsquare.accounts import address_pages
from townsquare.accounts import pages as accounts_pages
from townsquare.accounts import routes as accounts_routes
from townsquare.community import resident_pages, staff_pages
from townsquare.community import routes as community_routes
from townsquare.community.bills import pages as bill_pages
from townsquare.community.bills import payment as bill_payments
from townsquare.community.gate import pages as gate_pages
from townsquare.community.gate import routes as gate_routes
from townsquare.community.gate import visitor_pages, visitor_routes  # issue 18: visitors
from townsquare.community.repairs import pages as repair_pages
from townsquare.community.repairs import payment as repair_payments
from townsquare.community.repairs import routes as repair_routes  # issue 18: repairs API
from townsquare.community.services import admissions as community_admissions
from townsquare.community.services import bookings as community_bookings
from townsquare.community.services import pages as community_service_pages
from townsquare.community.services import routes as community_service_routes  # services API
from townsquare.core.database import Database
from townsquare.core.settings import Settings, get_settings
from townsquare.delivery import gateway_methods as delivery_methods
from townsquare.delivery import jobs as delivery_jobs
from townsquare.delivery import pages as delivery_pages
from townsquare.delivery import routes as delivery_routes
from townsquare.events import gateway_methods as events_methods
from townsquare.events import routes as events_routes
from townsquare.gateway import app_auth_methods, identity_methods, notifier
from townsquare.gateway import debug_pages as gateway_debug_pages
from townsquare.gateway import isv_pages as gateway_isv_pages
from townsquare.gateway import pages as gateway_pages
from townsquare.gateway import reference_pages as gateway_reference_pages
from townsquare.gateway import routes as gateway_routes
from townsquare.gateway.call_log import CallLog
from townsquare.gateway.limits import RateLimiter
from townsquare.gateway.methods import Method, MethodTable
from townsquare.merchants import operator_pages as merchant_operator_pages
from townsquare.merchants import pages as merchants_pages
from townsquare.merchants import routes as merchants_routes
from townsquare.messaging import gateway_methods as messaging_methods
from townsquare.messaging import notifications
from townsquare.messaging import pages as messaging_pages
from townsquare.messaging import routes as messaging_routes
from townsquare.miniapps import pages as miniapps_pages
from townsquare.miniapps import routes as miniapps_routes
from townsquare.miniapps import sample_backend
from townsquare.miniapps import template_pages as miniapps_template_pages
from townsquare.miniapps.shell import pages as shell_pages
from townsquare.miniapps.shell import routes as shell_routes
from townsquare.ordering import orders as ordering_orders
from townsquare.ordering import routes as ordering_routes
from townsquare.ordering import shop_setup as ordering_shop_setup
from townsquare.ordering.catalog import pages as ordering_catalog_pages
from townsquare.ordering.chat import pages as ordering_chat_pages
from townsquare.ordering.console import pages as ordering_console_pages
from townsquare.ordering.orders import delivery_link as order_deliveries
from townsquare.ordering.orders import jobs as order_jobs
from townsquare.ordering.orders import pages_mine as ordering_mine_pages
from townsquare.ordering.orders import pages_resident as ordering_shop_pages
from townsquare.ordering.orders import payment as order_payments
from townsquare.ordering.orders import routes as order_routes
from townsquare.ordering.slots import jobs as ordering_jobs
from townsquare.ordering.slots import pages as ordering_slot_pages
from townsquare.ordering.stores import pages as ordering_store_pages
from townsquare.payments import gateway_methods as payments_methods
from townsquare.payments.cashier import pages as cashier_pages
from townsquare.payments.ledger import merchant_pages as ledger_merchant_pages
from townsquare.payments.ledger import pages as ledger_pages
from townsquare.payments.trades import jobs as trade_jobs
from townsquare.payments.trades import pages as trade_pages
from townsquare.payments.wallet import pages as wallet_pages
from townsquare.scoring import gateway_methods as scoring_methods
from townsquare.scoring import notices as scoring_notices
from townsquare.scoring import pages as scoring_pages
from townsquare.scoring import routes as scoring_routes
from townsquare.scoring.integrity import pages as integrity_pages
from townsquare.traffic import topic_routes
from townsquare.traffic.console import merchant_pages as traffic_merchant_pages
from townsquare.traffic.console import operator_pages as traffic_operator_pages
from townsquare.traffic.market import routes as market_routes
from townsquare.traffic.planning import routes as planning_routes
from townsquare.traffic.serving import pages as serving_pages
from townsquare.traffic.serving import routes as serving_routes
from townsquare.traffic.support import discounts as campaign_discounts
from townsquare.traffic.support import gateway_methods as points_methods
from townsquare.traffic.support import routes as support_routes
from townsquare.web.app import build_app

# In this order: where paths overlap, the fixed path must come before the parameterised one
# (/community/staff before /community/{community_id}). The resident surfaces (home, search,
# channel and topic pages) come first: a request is matched against the routes in turn, and
# the home page is the most requested page (its paths overlap no other router's). The open
# gateway's one path follows: ISV backends call it at machine rates, and matching it against
# the thirteen routers that stood before it was 45% of a signed call's Python function calls.
ROUTERS: tuple[APIRouter, ...] = (
    serving_pages.router, gateway_routes.router,
    accounts_routes.router, accounts_pages.router, address_pages.router,
    merchants_routes.router, merchant_operator_pages.router, merchants_pages.router,
    miniapps_routes.router, miniapps_pages.router, miniapps_template_pages.router,
    shell_routes.router, shell_pages.router, sample_backend.router,
    events_routes.router, gateway_pages.router,
    gateway_isv_pages.router, gateway_reference_pages.router, gateway_debug_pages.router,
    scoring_routes.router, scoring_pages.router,
    integrity_pages.router,
    messaging_routes.router, messaging_pages.router,
    # community-repairs: fixed /community/repairs/… and /community/committee/repairs paths
    # before the resident pages' /community/{community_id}
    repair_pages.router,
    community_routes.router, staff_pages.router, resident_pages.router,
    gate_routes.router, gate_pages.router,
    bill_pages.router,  # issue 18: fee bills (/community/{com}/bills, …/manage/bills)
    visitor_routes.router, visitor_pages.router,  # issue 18: visitor passes
    cashier_pages.router, wallet_pages.router,
    support_routes.router, topic_routes.router, market_routes.router, planning_routes.router,
    serving_routes.router,
    traffic_operator_pages.router, traffic_merchant_pages.router,
    ordering_routes.router, order_routes.router,
    ordering_store_pages.router, ordering_slot_pages.router, ordering_catalog_pages.router,
    ordering_shop_pages.router, ordering_mine_pages.router,
    ordering_console_pages.router,
    ordering_chat_pages.router,
    ledger_pages.router, ledger_merchant_pages.router,
    trade_pages.router,
    delivery_routes.router, delivery_pages.router,
    # issue 18, community-market: the community's services marketplace
    community_service_pages.router,
    # issue 18: the JSON API of services bookings and repair tickets
    community_service_routes.router, repair_routes.router,
)

# Every capability the open gateway offers, from every domain that opens one.
GATEWAY_METHODS: tuple[Method, ...] = (
    *identity_methods.METHODS, *messaging_methods.METHODS, *scoring_methods.METHODS,
    *points_methods.METHODS, *events_methods.METHODS, *app_auth_methods.METHODS,
    *payments_methods.METHODS, *delivery_methods.METHODS,
)


def connect_hooks() -> None:
    """Connect what higher floors do when lower ones announce an event (core/hooks.py): the
    notifications merchants and ISVs get of review decisions, template changes and complaints,
    the orders that follow their trades (ordering listens to payments), and the campaign discounts
    checkout asks traffic for. Idempotent; the
    web app, the CLI and the tests call it once at start."""
    notifications.connect()
    scoring_notices.connect()
    ordering_shop_setup.connect()  # the registry asks which stores a shop mini-app may name
    order_payments.connect()  # orders follow their trades (paid, closed, refunded)
    order_deliveries.connect()  # delivery orders ask for couriers and follow them
    repair_payments.connect()  # community-repairs: a repair's charge paid in the cashier
    # checkout asks traffic (above ordering) for the best campaign discount of the mini-app
    ordering_orders.set_discount_provider(campaign_discounts.checkout_discount)
    # --- issue 18: fee bills follow their payments' trades (paid, closed, refunded)
    bill_payments.connect()
    # issue 18, community-market: service bookings follow their trades
    community_bookings.connect()
    # checkout asks the community (above ordering) whose commission an admitted shop's order owes
    ordering_orders.set_commission_provider(community_admissions.order_commission)


def _start_trade_jobs(app: FastAPI) -> None:
    app.state.trade_jobs = trade_jobs.start(app.state.database, app.state.settings)


def _stop_trade_jobs(app: FastAPI) -> None:
    scheduler = getattr(app.state, "trade_jobs", None)
    if scheduler is not None:
        scheduler.stop()


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """The whole platform: every package's routes on the shared web platform."""
    connect_hooks()
    app = build_app(settings or get_settings(), database)
    for router in ROUTERS:
        app.include_router(router)
    app.state.gateway_methods = MethodTable(GATEWAY_METHODS)
    app.state.gateway_limiter = RateLimiter(app.state.settings.gateway_rate_limits)
    app.state.gateway_call_log = CallLog(
        app.state.database, app.state.settings.gateway_call_log_flush_ms
    )
    app.state.startup_hooks.append(notifier.start)  # the gateway's notification outbox
    app.state.startup_hooks.append(_start_trade_jobs)  # trades' timeouts and refund periods
    app.state.shutdown_hooks.append(_stop_trade_jobs)
    app.state.shutdown_hooks += [notifier.stop, lambda app: app.state.gateway_call_log.close()]
    app.state.startup_hooks.append(ordering_jobs.start)  # expired holds give their places back
    app.state.shutdown_hooks.append(ordering_jobs.stop)
    app.state.startup_hooks.append(delivery_jobs.start)  # book deliveries, poll quiet ones
    app.state.shutdown_hooks.append(delivery_jobs.stop)
    app.state.startup_hooks.append(order_jobs.start)  # auto-cancel, auto-complete orders
    app.state.shutdown_hooks.append(order_jobs.stop)
    app.state.startup_hooks.append(serving_routes.on_startup)  # serving snapshot, search index
    app.state.shutdown_hooks.append(serving_routes.on_shutdown)  # flush write-behind exposures
    return app
