"""SI amounts: what the CLI reads, what it prints, and suggested commands that read back exactly."""

import numpy as np
import pytest

from designspace.units import read_amount, si, si_exact


@pytest.mark.parametrize(
    "text, value",
    [("400e6", 400e6), ("400M", 400e6), ("2.5k", 2500.0), ("2.5K", 2500.0), ("1G", 1e9), ("17", 17.0), (" 3M ", 3e6)],
)
def test_amounts_are_read_with_or_without_a_suffix(text, value):
    assert read_amount(text) == value


@pytest.mark.parametrize("text", ["", "M", "400T", "4..0M", "four"])
def test_anything_else_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match="is not a number"):
        read_amount(text)


def test_printed_amounts_round_to_the_digits_asked():
    assert si(398_765_432) == "399M" and si(398_765_432, 4) == "398.8M"
    assert si(1_234) == "1.23k" and si(12) == "12" and si(2.5e9) == "2.5G"
    # rounding up to the next unit takes that unit; an open window's end stays inf
    assert (si(999_999_999), si(999_600), si(999.7)) == ("1G", "1M", "1k")
    assert si(float("inf")) == "inf"


def test_exact_amounts_read_back_to_the_same_number():
    assert si_exact(400e6) == "400M" and si_exact(2e3) == "2k" and si_exact(1.5e9) == "1.5G"
    rng = np.random.default_rng(0)
    values = [*rng.integers(1, 10**10, 200), *(rng.integers(1, 1000, 50) * 10**6), 123_456_789]
    for value in map(float, values):
        assert read_amount(si_exact(value)) == value
    assert si_exact(123_456_789) == "123456789"
