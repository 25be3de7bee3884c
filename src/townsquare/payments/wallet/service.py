"""The wallet: its balance (the ledger account `wallet:{user_id}`), bound bank cards and top-ups
from a card (the bank charges the card, then one ledger entry BANK_CLEARING −x, wallet +x; both
idempotent by the resident's key, so a repeated top-up moves money once)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.i18n import format_money
from townsquare.core.settings import Settings
from townsquare.payments import funding, ledger
from townsquare.payments.funding.adapter import FundingMismatch
from townsquare.payments.ledger import accounts
from townsquare.payments.wallet.models import TopUp, WalletCard


def balance(db: Session, *, user: User) -> int:
    return ledger.balance(db, accounts.wallet(user.id))


def cards(db: Session, *, user: User) -> list[WalletCard]:
    return list(db.scalars(select(WalletCard).where(WalletCard.user_id == user.id,
                                                    WalletCard.removed_at.is_(None))
                           .order_by(WalletCard.id)))


def card_of(db: Session, *, actor: User, card_id: str) -> WalletCard:
    """One of the actor's bound cards by public id (NotFound for anyone else's)."""
    card = db.scalar(select(WalletCard).where(WalletCard.public_id == card_id,
                                              WalletCard.user_id == actor.id,
                                              WalletCard.removed_at.is_(None)))
    if card is None:
        raise NotFound("No such bank card.")
    return card


def code_card(db: Session, *, user: User) -> WalletCard | None:
    """The bound card that pays at a till when the wallet is short (None: the wallet alone)."""
    return db.scalar(select(WalletCard).where(WalletCard.user_id == user.id,
                                              WalletCard.removed_at.is_(None),
                                              WalletCard.backs_code.is_(True)).limit(1))


def set_code_card(db: Session, *, actor: User, card_id: str | None) -> WalletCard | None:
    """Choose the card behind the payment code (`card_id` a bound card's public id), or none."""
    chosen = card_of(db, actor=actor, card_id=card_id) if card_id else None
    for card in db.scalars(select(WalletCard).where(WalletCard.user_id == actor.id)):
        card.backs_code = chosen is not None and card.id == chosen.id
    db.flush()
    return chosen


def bind_card(db: Session, *, settings: Settings, actor: User, number: str) -> WalletCard:
    bound = funding.bind_card(db, secret=settings.effective_secret_key, number=number,
                              holder=actor.public_id)
    card = db.scalar(select(WalletCard).where(WalletCard.user_id == actor.id,
                                              WalletCard.funding_token == bound.token))
    if card is None:
        card = WalletCard(user_id=actor.id, funding_token=bound.token,
                          bank_name=bound.bank_name, number_masked=bound.number_masked)
        db.add(card)
    card.removed_at = None
    db.flush()
    return card


def remove_card(db: Session, *, actor: User, card_id: str) -> None:
    card_of(db, actor=actor, card_id=card_id).removed_at = clock.now()
    db.flush()


def top_up(db: Session, *, settings: Settings, actor: User, card_id: str, amount_fen: int,
           idempotency_key: str) -> TopUp:
    """Move `amount_fen` from a bound card into the wallet, once per `idempotency_key`."""
    if amount_fen <= 0:
        raise ValidationFailed("Enter an amount above zero.", field="amount")
    if amount_fen > settings.wallet_top_up_max_fen:
        raise ValidationFailed("One top-up is at most {limit}.", field="amount",
                               limit=format_money(settings.wallet_top_up_max_fen))
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValidationFailed("A top-up needs a request id (at most 64 characters).")
    card = card_of(db, actor=actor, card_id=card_id)
    key = f"topup:{actor.id}:{idempotency_key}"
    row = TopUp(user_id=actor.id, card_id=card.id, amount_fen=amount_fen, idempotency_key=key,
                funding_reference="")
    try:
        with db.begin_nested():  # claims the key; a twin that claimed it first answers instead
            db.add(row)
            db.flush()
    except IntegrityError:
        return _replay(db, key=key, card=card, amount_fen=amount_fen)
    charge = funding.adapter_for(db).charge(card.funding_token, amount_fen, key)
    funding.use_charge(db, charge=charge, purpose="top_up", subject=key)
    row.funding_reference = charge.reference
    ledger.post(db, kind="top_up", reference=row.public_id, idempotency_key=key,
                legs={accounts.BANK_CLEARING: -amount_fen, accounts.wallet(actor.id): amount_fen},
                memo=f"{card.bank_name} {card.number_masked[-4:]}")
    db.flush()
    return row


def _replay(db: Session, *, key: str, card: WalletCard, amount_fen: int) -> TopUp:
    done = db.scalar(select(TopUp).where(TopUp.idempotency_key == key))
    if done is None:  # pragma: no cover - the unique key was taken, so the row exists
        raise FundingMismatch("This request id is in use.")
    if (done.card_id, done.amount_fen) != (card.id, amount_fen):
        raise FundingMismatch("This request id was already used for a different top-up.")
    return done


def top_ups(db: Session, *, user: User, limit: int = 200) -> list[TopUp]:
    return list(db.scalars(select(TopUp).where(TopUp.user_id == user.id)
                           .order_by(TopUp.id.desc()).limit(limit)))
