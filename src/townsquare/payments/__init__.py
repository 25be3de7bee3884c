"""Payments: trades, the cashier and wallet with their funding adapters, the double-entry ledger
(`ledger/`), settlement and bills. Other domains move money only through this package's door."""
