"""The traffic consoles: the merchant's and the operator's traffic pages, their views, reports and
charts."""
