"""The resident's wallet: balance (a ledger account), bound cards, top-ups, the payment PIN,
limits, payment codes (付款码), paying a trade, and the bill."""
