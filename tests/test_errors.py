"""``positive_int``: the one check of integer parameters (counts, lengths, strides, batch sizes)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tsmamba.errors import ConfigError, positive_int


def test_positive_int_returns_a_plain_int_for_python_and_numpy_integers():
    assert positive_int(3, "stride") == 3
    value = positive_int(np.int64(7), "horizon")
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("value", [0, -1, 2.5, 2.0, True, "4", None])
def test_positive_int_names_the_parameter_and_the_value_it_rejects(value):
    message = re.escape(f"stride must be a positive integer, got {value!r}") + "$"
    with pytest.raises(ConfigError, match=message):
        positive_int(value, "stride")


def test_positive_int_lets_none_through_when_allowed_and_appends_the_hint():
    assert positive_int(None, "n_windows", allow_none=True) is None
    with pytest.raises(ConfigError, match=r"got 0; pass None to use every window$"):
        positive_int(0, "n_windows", allow_none=True, hint="pass None to use every window")
