"""The market simulator and the demo city it lives in."""
