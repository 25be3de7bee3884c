"""Merchant statements (对账单): every payment and refund of a merchant in a period of local
days, each with what the merchant keeps and what went to fees and commissions, read from the
ledger entries themselves (so a statement always agrees with the ledger), as a page, as CSV,
and through `alipay.data.dataservice.bill.downloadurl.query` as a short-lived signed link.

Like Alipay's, a day's statement exists from the next local day on (T+1): an open day is still
changing."""

from __future__ import annotations

import csv
import hmac
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.money import fen_to_yuan
from townsquare.core.security import b64url, b64url_decode, sign_hmac
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import AccountKind, JournalEntry
from townsquare.payments.trades.models import Refund, Trade

LINK_SECONDS = 30  # a download link works this long (Alipay's: 30 seconds)
_PURPOSE = "payments.statement-link"


@dataclass(frozen=True)
class Line:
    kind: str  # "payment" or "refund"
    at: datetime
    trade_no: str
    out_trade_no: str
    subject: str
    amount_fen: int  # + paid, − refunded
    merchant_fen: int  # what the merchant's funds moved by
    out_request_no: str = ""
    community_fen: int = 0  # of the fees: a community's commission (negative: given back)

    @property
    def fees_fen(self) -> int:
        """The platform's fee and any commissions (negative: given back with a refund)."""
        return self.amount_fen - self.merchant_fen


@dataclass(frozen=True)
class Statement:
    merchant_id: int
    first: date
    last: date
    lines: list[Line] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        paid = [line for line in self.lines if line.kind == "payment"]
        refunds = [line for line in self.lines if line.kind == "refund"]
        return {"payments": len(paid), "paid_fen": sum(line.amount_fen for line in paid),
                "refunds": len(refunds), "refunded_fen": -sum(r.amount_fen for r in refunds),
                "fees_fen": sum(line.fees_fen for line in self.lines),
                "community_fen": sum(line.community_fen for line in self.lines),
                "merchant_fen": sum(line.merchant_fen for line in self.lines)}


def _bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(first, day_time(), tzinfo=zone),
            datetime.combine(last + timedelta(days=1), day_time(), tzinfo=zone))


def is_closed(last: date, timezone: str) -> bool:
    """A period's statement exists once its last local day is over."""
    return last < clock.now().astimezone(ZoneInfo(timezone)).date()


def build(db: Session, *, merchant_id: int, first: date, last: date,
          timezone: str) -> Statement:
    """The merchant's payments and refunds from `first` to `last` (local days), oldest first."""
    start, end = _bounds(first, last, ZoneInfo(timezone))
    paid = list(db.scalars(select(Trade).where(
        Trade.merchant_id == merchant_id, Trade.paid_at >= start, Trade.paid_at < end)))
    refunds = list(db.execute(select(Refund, Trade).join(Trade, Refund.trade_id == Trade.id)
                              .where(Trade.merchant_id == merchant_id,
                                     Refund.refunded_at >= start, Refund.refunded_at < end)))
    references = {t.trade_no for t in paid} | {t.trade_no for _, t in refunds}
    entries = list(db.scalars(select(JournalEntry)
                              .where(JournalEntry.reference.in_(references))))
    mine = {accounts.merchant_pending(merchant_id), accounts.merchant_available(merchant_id)}

    def merchant_part(entry: JournalEntry | None) -> int:
        if entry is None:
            return 0
        return sum(p.amount_fen for p in entry.postings if p.account.code in mine)

    def community_part(entry: JournalEntry | None) -> int:
        if entry is None:
            return 0
        return sum(p.amount_fen for p in entry.postings
                   if p.account.kind is AccountKind.COMMUNITY_COMMISSION)

    payment_of = {e.reference: e for e in entries if e.kind == "payment"}
    by_public_id = {e.public_id: e for e in entries}
    lines = [Line("payment", t.paid_at, t.trade_no, t.out_trade_no, t.subject, t.total_fen,
                  merchant_part(payment_of.get(t.trade_no)),
                  community_fen=community_part(payment_of.get(t.trade_no)))
             for t in paid if t.paid_at is not None]
    lines += [Line("refund", r.refunded_at, t.trade_no, t.out_trade_no, t.subject,
                   -r.amount_fen, merchant_part(by_public_id.get(r.entry_id)), r.out_request_no,
                   community_fen=community_part(by_public_id.get(r.entry_id)))
              for r, t in refunds]
    lines.sort(key=lambda line: (line.at, line.kind))
    return Statement(merchant_id=merchant_id, first=first, last=last, lines=lines)


COLUMNS = ("交易号 trade_no", "商户订单号 out_trade_no", "业务类型 type", "商品名称 subject",
           "完成时间 time", "订单金额（元）amount", "商家实收（元）merchant", "服务费（元）fees",
           "退款请求号 out_request_no")


def as_csv(statement: Statement, *, merchant_name: str, timezone: str) -> str:
    """The statement as Alipay-style CSV: `#` lines before and after the rows, UTF-8 with a
    byte-order mark so that spreadsheet programs read the Chinese right."""
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    out.write("\ufeff")
    period = (statement.first.isoformat() if statement.first == statement.last
              else f"{statement.first.isoformat()} – {statement.last.isoformat()}")
    out.write(f"#业务明细查询 statement\n#商户 merchant: {merchant_name}\n#账期 period: {period}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in statement.lines:
        writer.writerow([
            line.trade_no, line.out_trade_no, "交易" if line.kind == "payment" else "退款",
            line.subject, line.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            fen_to_yuan(line.amount_fen), fen_to_yuan(line.merchant_fen),
            fen_to_yuan(line.fees_fen), line.out_request_no,
        ])
    totals = statement.totals
    out.write("#业务明细列表结束 end\n")
    out.write(f"#交易合计 payments: {totals['payments']}笔，{fen_to_yuan(totals['paid_fen'])}元；"
              f"退款合计 refunds: {totals['refunds']}笔，{fen_to_yuan(totals['refunded_fen'])}元；"
              f"服务费 fees: {fen_to_yuan(totals['fees_fen'])}元；"
              f"商家实收 merchant: {fen_to_yuan(totals['merchant_fen'])}元\n")
    return out.getvalue()


def parse_period(text: str) -> tuple[date, date]:
    """`yyyy-MM-dd` (a day) or `yyyy-MM` (a month); ValueError otherwise."""
    if len(text) == 7:
        first = date.fromisoformat(text + "-01")
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)
    if len(text) == 10:
        day = date.fromisoformat(text)
        return day, day
    raise ValueError(text)


def download_token(secret: bytes, *, merchant_id: int, period: str) -> str:
    """A link's token: which merchant's which period, until when, signed with the server key."""
    expires = int(clock.now().timestamp()) + LINK_SECONDS
    payload = f"{merchant_id}.{period}.{expires}".encode()
    return b64url(payload) + "." + sign_hmac(secret, _PURPOSE, payload)


def read_token(secret: bytes, token: str) -> tuple[int, str] | None:
    """The merchant id and period of a valid, unexpired token; None otherwise."""
    body, _, mac = token.partition(".")
    try:
        payload = b64url_decode(body)
        merchant_id, period, expires = payload.decode().split(".")
    except ValueError:
        return None
    if not hmac.compare_digest(mac, sign_hmac(secret, _PURPOSE, payload)):
        return None
    if int(expires) < clock.now().timestamp():
        return None
    return int(merchant_id), period

