"""The cashier: the page where a resident pays a trade (`/cashier/{trade_no}`)."""
