"""The seller dashboards: every to-do count equals the rows of the list it links to, each
seller sees only its own figures, the provider sees revenue by reseller, and the page costs
the same number of queries whatever the number of customers."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import UsageRecord
from orders import services
from orders.models import Order, OrderState
from payments.services.accounts import invoice_terms_set
from portal import clock
from portal.models import OrgKind
from tests.consoles.conftest import invoice
from tests.factories import SYSTEM, add_member, make_org
from tests.orders.conftest import subscribe

pytestmark = pytest.mark.django_db

TODO = re.compile(r'<a href="([^"]+)" data-testid="todo-(\w+)" data-count="(\d+)">')
EXPECTED = {
    # console: {to-do: count}
    "R1": {"orders": 1, "customers": 1, "jobs": 1, "drift": 1, "overdue": 2, "suspended": 0},
    "R2": {"orders": 0, "customers": 0, "jobs": 0, "drift": 0, "overdue": 1, "suspended": 1},
    # The provider's staff see everything below it; customers wait for their own seller.
    "P": {"orders": 1, "customers": 0, "jobs": 1, "drift": 1, "overdue": 3, "suspended": 1},
}


def _list_rows(response, key: str) -> int:
    if key == "customers":
        return len(response.context["pending_customers"])
    return response.context["page"].paginator.count


@pytest.mark.parametrize("console", ["R1", "R2", "P"])
def test_each_todo_count_is_the_number_of_rows_of_the_list_it_links_to(busy, client, console):
    client.force_login(busy[f"{console}.admin"])
    body = client.get(f"/console/{busy[console].pk}/").content.decode()
    todos = {key: (url.replace("&amp;", "&"), int(n)) for url, key, n in TODO.findall(body)}
    assert {key: n for key, (_, n) in todos.items()} == EXPECTED[console]
    for key, (url, count) in todos.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert _list_rows(response, key) == count, key


def test_the_lists_name_what_they_filter_and_refuse_a_bad_filter(busy, client):
    client.force_login(busy["R1.admin"])
    r1 = busy["R1"].pk
    body = client.get(f"/console/{r1}/billing/invoices/?overdue=2").content.decode()
    assert "Overdue: use 1 for overdue invoices only." in body
    body = client.get(f"/console/{r1}/billing/invoices/?overdue=1").content.decode()
    assert '<option value="1" selected>Overdue only</option>' in body
    body = client.get(f"/console/{r1}/provisioning/accounts/?drift=1").content.decode()
    assert '<option value="1" selected>With drift only</option>' in body


def test_a_suspended_subscription_makes_its_customer_count_as_suspended(
    tree, catalog, fake, client
):
    sub = subscribe(tree, catalog, fake, customer="C21", offer="R2.business", quantity=3)
    services.subscription_suspend(actor=tree["R2.admin"], subscription=sub, reason="Unpaid")
    client.force_login(tree["R2.admin"])
    body = client.get(f"/console/{tree['R2'].pk}/").content.decode()
    todos = {key: int(n) for _, key, n in TODO.findall(body)}
    assert todos["suspended"] == 1
    listed = client.get(f"/console/{tree['R2'].pk}/customers/?status=suspended")
    assert [c.name for c in listed.context["page"]] == ["Customer C21"]


def test_figures_belong_to_each_seller_and_the_provider_sees_revenue_by_reseller(
    tree, catalog, fake, client, frozen
):
    subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    subscribe(tree, catalog, fake, customer="C21", offer="R2.business", quantity=4)
    subscribe(tree, catalog, fake, customer="PC2", offer="P.business", quantity=3)
    frozen(clock.today() + timedelta(days=20))
    p, r1, r2, s1 = tree["P"], tree["R1"], tree["R2"], tree["S1"]
    invoice(p, r1, source="wholesale", subtotal="100.00")
    invoice(p, r1, source="wholesale", subtotal="250.50")
    invoice(p, r1, source="wholesale", subtotal="999.00", state="void")
    invoice(p, r2, source="wholesale", subtotal="40.00")
    invoice(r1, s1, source="wholesale", subtotal="12.00")

    def figures(key, org):
        client.force_login(tree[key])
        response = client.get(f"/console/{org.pk}/")
        assert response.status_code == 200
        return response.context["figures"], response.content.decode()

    r1_figures, r1_body = figures("R1.admin", r1)
    assert [(m["currency"], m["now"], m["change"]) for m in r1_figures["revenue"]["mrr"]] == [
        ("USD", Decimal("80.00"), Decimal("80.00"))  # 5 seats x 16.00, started 20 days ago
    ]
    assert r1_figures["revenue"]["seats_now"] == 5
    assert [(r["reseller"], r["total"]) for r in r1_figures["by_reseller"]] == [
        ("Sub-reseller S1", Decimal("12.00"))
    ]
    assert "Customer C21" not in r1_body and "Reseller R2" not in r1_body
    assert "70.00" not in r1_body  # R2's monthly revenue (4 x 17.50)

    r2_figures, r2_body = figures("R2.admin", r2)
    assert [(m["currency"], m["now"]) for m in r2_figures["revenue"]["mrr"]] == [
        ("USD", Decimal("70.00"))
    ]
    assert r2_figures["revenue"]["seats_now"] == 4
    assert r2_figures["by_reseller"] == []
    assert 'data-testid="by-reseller"' not in r2_body
    assert "Customer C11" not in r2_body

    p_figures, p_body = figures("P.admin", p)
    assert [(m["currency"], m["now"]) for m in p_figures["revenue"]["mrr"]] == [
        ("USD", Decimal("45.00"))  # only what the provider sells itself: 3 x 15.00
    ]
    assert p_figures["revenue"]["seats_now"] == 12  # every seat below the provider
    assert [(r["reseller"], r["total"], r["invoices"]) for r in p_figures["by_reseller"]] == [
        ("Reseller R1", Decimal("350.50"), 2),
        ("Reseller R2", Decimal("40.00"), 1),
    ]
    assert "350.50 USD" in p_body and "40.00 USD" in p_body

    # Another seller's console is a 404 that names nothing.
    client.force_login(tree["R1.admin"])
    response = client.get(f"/console/{r2.pk}/")
    assert response.status_code == 404
    assert "R2" not in response.content.decode()


def _grow(tree, catalog, fake, n: int) -> None:
    """``n`` more customers below R1, each with a subscription, usage, an order waiting and an
    overdue invoice."""
    r1 = tree["R1"]
    start = sum(1 for key in tree.orgs if key.startswith("G"))
    for i in range(start, start + n):
        customer = make_org(r1, OrgKind.CUSTOMER, f"Grown {i}")
        tree.users[f"G{i}.admin"] = add_member(customer, "admin", f"g{i}.admin@example.test")
        tree.orgs[f"G{i}"] = customer
        invoice_terms_set(actor=SYSTEM, buyer=customer, days=14)  # provisioned at once
        sub = subscribe(tree, catalog, fake, customer=f"G{i}", offer="R1.business", quantity=3)
        for day in range(3):
            UsageRecord.objects.create(
                subscription=sub,
                metric="storage_bytes",
                day=clock.today() - timedelta(days=day),
                value=(i + 1) * 1024**3,
            )
        invoice(r1, customer, due_in=-2)
        Order.objects.create(
            customer=customer,
            seller=r1,
            state=OrderState.AWAITING_APPROVAL,
            placed_as="customer",
            currency="USD",
        )


@pytest.mark.parametrize("console", ["P", "R1"])
def test_the_dashboard_costs_the_same_queries_whatever_the_number_of_customers(
    tree, catalog, fake, client, django_assert_num_queries, console
):
    _grow(tree, catalog, fake, 1)
    client.force_login(tree[f"{console}.admin"])
    url = f"/console/{tree[console].pk}/"
    client.get(url)  # warm the brand and session caches once
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _grow(tree, catalog, fake, 4)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    todos = {key: int(n) for _, key, n in TODO.findall(response.content.decode())}
    assert todos["overdue"] == 5 and todos["orders"] == 5
    assert response.context["figures"]["revenue"]["seats_now"] == 15
