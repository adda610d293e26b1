"""Payments tests use the localstripe fixtures of ``tests/conftest.py``; the helpers live in
``tests/payments_support.py`` and are re-exported here for the tests that import them."""

from tests.payments_support import (  # noqa: F401
    DECLINED_ON_CHARGE,
    DECLINED_ON_SAVE,
    GOOD,
    NEEDS_3DS,
    saved_card,
    seller_account,
    signed,
)
