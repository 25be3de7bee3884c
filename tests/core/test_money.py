"""Yuan typed by people → integer fen, exactly (Decimal), and back for form fields."""

from __future__ import annotations

import pytest

from townsquare.core.errors import ValidationFailed
from townsquare.core.money import fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(("text", "fen"), [
    ("0", 0), ("1", 100), ("1.5", 150), ("1.50", 150), ("0.29", 29), ("0.57", 57),
    ("19.99", 1999), ("¥1,234.56", 123456), (" 8.10 ", 810), ("999999999.99", 99999999999),
    ("１２", 1200), ("￥3", 300),  # a Chinese input method's full-width digits and yen sign
])
def test_exact_conversion(text, fen):
    assert yuan_to_fen(text, field="amount") == fen  # float(0.29) * 100 would give 28


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.505", "1e3", "1..2", ".5", "1,5.0.0",
                                  "1000000000", "NaN", "Infinity"])
def test_bad_amounts_are_refused_naming_the_field(text):
    with pytest.raises(ValidationFailed) as caught:
        yuan_to_fen(text, field="daily_budget")
    assert caught.value.params["field"] == "daily_budget"


@pytest.mark.parametrize(("fen", "text"), [(0, "0.00"), (5, "0.05"), (150, "1.50"),
                                           (123456, "1234.56")])
def test_back_to_yuan(fen, text):
    assert fen_to_yuan(fen) == text
