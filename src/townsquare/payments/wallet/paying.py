"""A resident pays a trade: from the wallet balance or a bound card, within the limits, after
the payment PIN (the cashier) or a payment code (the merchant's till).

Order matters: the trade must still wait for payment, the PIN is checked, the limits are
counted under the resident's lock, and only then is a card charged (idempotent per trade). The
charge is followed by `trades.service.pay` from BANK_CLEARING; if the trade refuses the payment
after the bank took the money, the charge is refunded at once, so the resident is never charged
for a trade that was not paid."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import Conflict, PermissionDenied, TownsquareError
from townsquare.core.settings import Settings
from townsquare.payments import funding, ledger
from townsquare.payments.funding.adapter import Charge
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.errors import BuyerBalanceNotEnough, TradeClosed, TradePaid
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.wallet import limits, pin
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.payment_codes import WALLET_CHANNEL

WALLET = "wallet"  # the funding choice that means the balance (else a bound card's public id)
CARD_CHANNEL = "BANKCARD"


class WalletBalanceNotEnough(Conflict):
    code = "wallet_balance_not_enough"


@dataclass(frozen=True)
class Choice:
    """One way to pay, as the cashier offers it."""

    key: str  # WALLET or a card's public id
    label: str
    enough: bool


def payable(db: Session, *, actor: User, trade_no: str) -> Trade:
    """The trade, if this resident may pay it now (TradePaid / TradeClosed otherwise)."""
    trade = trades.get(db, trade_no)
    if trade.buyer_user_id is not None and trade.buyer_user_id != actor.id:
        if trade.status is TradeStatus.WAIT_BUYER_PAY:
            raise PermissionDenied("This payment is for someone else.")
        raise TradePaid("The trade has already been paid.", trade_no=trade.trade_no)
    if trade.status is not TradeStatus.WAIT_BUYER_PAY:
        if trade.status is TradeStatus.TRADE_CLOSED:
            raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)
        raise TradePaid("The trade has already been paid.", trade_no=trade.trade_no)
    return trade


def choices(db: Session, *, actor: User, amount_fen: int) -> list[Choice]:
    balance = wallet.balance(db, user=actor)
    found = [Choice(WALLET, "", balance >= amount_fen)]
    found += [Choice(card.public_id, f"{card.bank_name} {card.number_masked[-4:]}", True)
              for card in wallet.cards(db, user=actor)]
    return found


def method_for_code(db: Session, *, actor: User, amount_fen: int) -> str:
    """How a payment code pays `amount_fen` at a till: the wallet while it holds enough, else
    the card the resident put behind the code (the wallet, and its refusal, without one)."""
    if wallet.balance(db, user=actor) >= amount_fen:
        return WALLET
    card = wallet.code_card(db, user=actor)
    return card.public_id if card is not None else WALLET


def pay_trade(db: Session, *, settings: Settings, actor: User, trade_no: str, method: str,
              payment_pin: str | None, by_code: bool = False) -> Trade:
    """Pay `trade_no` for `actor` from `method` (WALLET or a bound card's public id).

    `payment_pin` is required unless `by_code` (the resident showed a payment code, which they
    unlocked on their phone). Raises the trade's refusals, PinWrong/PinLocked, LimitExceeded,
    WalletBalanceNotEnough or the bank's FundingError; nothing is kept then but the count of a
    wrong PIN."""
    limits.lock(db, user=actor)  # one payment of this resident at a time, from here on
    trade = payable(db, actor=actor, trade_no=trade_no)
    if not by_code:
        pin.verify(db, settings=settings, user=actor, pin=payment_pin or "")
    amount = trade.total_fen
    card = None if method == WALLET else wallet.card_of(db, actor=actor, card_id=method)
    if card is None and wallet.balance(db, user=actor) < amount:
        raise WalletBalanceNotEnough("Not enough money in your wallet; top up or pay by card.")
    channel = WALLET_CHANNEL if card is None else CARD_CHANNEL
    spend = limits.record(db, settings=settings, user=actor, trade_no=trade.trade_no,
                          amount_fen=amount, fund_channel=channel,
                          card_id=card.id if card else None)
    charge: Charge | None = None
    if card is not None:
        charge = funding.adapter_for(db).charge(card.funding_token, amount,
                                                f"trade:{trade.trade_no}")
        # once only: a charge the orphan job already gave back cannot pay (ChargeGivenBack)
        funding.use_charge(db, charge=charge, purpose="payment", subject=trade.trade_no)
        spend.funding_reference = charge.reference
    try:
        return trades.pay(
            db, trade_no=trade.trade_no, payer=actor,
            source=accounts.wallet(actor.id) if charge is None else accounts.BANK_CLEARING,
            fund_channel=channel, funding_reference=charge.reference if charge else "",
            idempotency_key=f"pay:{trade.trade_no}:{actor.id}")
    except (TownsquareError, ledger.InsufficientFunds) as refused:
        if charge is not None:
            # the bank took the money for a payment that did not happen: give it back now
            funding.adapter_for(db).refund(charge.reference, amount,
                                           f"trade:{trade.trade_no}:undo")
        if isinstance(refused, BuyerBalanceNotEnough | ledger.InsufficientFunds):
            raise WalletBalanceNotEnough(
                "Not enough money in your wallet; top up or pay by card.") from None
        raise
