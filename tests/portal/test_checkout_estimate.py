"""The storefront checkout and the portal's order form put the estimate's total right above
the button that places the order (on a phone the full estimate comes after the form)."""

import pytest

pytestmark = pytest.mark.django_db


def test_checkout_shows_the_estimate_total_before_the_order_button(tree, catalog, client):
    offer = catalog["R1.business"]
    body = client.get(
        f"/offers/{offer.pk}/order/?seats=5&term=monthly", HTTP_HOST="r1.test"
    ).content.decode()
    line = body.index('data-testid="estimate-line"')
    assert "First invoice: <strong>88.00 USD</strong>" in body  # 5 x 16.00 + 10 %
    assert line < body.index(">Place the order</button>")


def test_an_invalid_order_shows_no_estimate_line(tree, catalog, client):
    offer = catalog["R1.business"]
    body = client.get(
        f"/offers/{offer.pk}/order/?seats=0&term=monthly", HTTP_HOST="r1.test"
    ).content.decode()
    assert 'data-testid="estimate-line"' not in body
