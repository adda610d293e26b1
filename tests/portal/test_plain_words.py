"""A crawler signs in as a customer with orders, subscriptions (one with a scheduled change),
seats, invoices, a failed payment and an activity log, follows every link of its portal, and
fails on a provisioning step code, a raw audit action, an internal id (the Box enterprise,
Box user ids, the internal Box admin login, ``#<id>``) or an amount without its thousands
separators or with more decimals than the currency has."""

from __future__ import annotations

import html
import re
from collections import deque
from datetime import date

import pytest

from billing.models import Invoice
from billing.services.run import RUN, billing_run
from orders import services as orders
from payments.models import Payment
from portal import clock
from portal.models import AuditEvent
from provisioning.models import BoxUser
from provisioning.operations import OPERATIONS
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db

# 4+ digits before the point without a separator ("188119.63"), or 3+ decimals ("17.5000").
UNFORMATTED = re.compile(r"(?<![\d,.])(\d{4,}\.\d+|\d{1,3}(?:,\d{3})*\.\d{3,})(?![\d])")
# "Why this amount" shows the exact value before rounding, on purpose ("= 250.645, rounded
# half-up to 250.65 USD"): that one is the explanation, not an amount.
BEFORE_ROUNDING = re.compile(r"= [\d,.]+, rounded")
HASH_ID = re.compile(r"#\d+\b")
SKIP = re.compile(r"/pdf/|\.pdf$|/logout/")


def visible_text(body: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    body = re.sub(r"<!--.*?-->", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body))


def customer_with_history(tree, catalog, fake):
    """PC1 on Business, 150 seats monthly (amounts in the thousands), seats given, more seats
    bought mid-month (prorated), a renewal billed, a scheduled change and a failed payment."""
    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.business", quantity=150)
    admin = tree["PC1.admin"]
    for n in range(3):
        orders.seat_assign(actor=admin, subscription=sub, email=f"p{n}@pc1.test", name=f"P{n}")
    run_jobs(fake)
    clock.set_today(date(2027, 1, 10))
    orders.subscription_change(actor=admin, subscription=sub, quantity=160)
    run_jobs(fake)
    clock.set_today(date(2027, 2, 1))
    billing_run(actor=RUN, day=date(2027, 2, 1))
    clock.set_today(date(2027, 2, 2))
    orders.subscription_change(actor=admin, subscription=sub, quantity=155)
    orders.seat_assign(actor=admin, subscription=sub, email="late@pc1.test", name="Late")
    renewal = Invoice.objects.get(buyer=tree["PC1"], source="period")
    Payment.objects.create(
        invoice=renewal,
        buyer=tree["PC1"],
        seller=tree["P"],
        source="card",
        trigger="autopay",
        state="failed",
        currency=renewal.currency,
        amount=renewal.total,
        failure_message="Your card was declined.",
    )
    sub.refresh_from_db()
    return sub


def crawl(client, start: str, prefix: str, limit: int = 120) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = deque([start, "/me/"])
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        answer = client.get(url)
        assert answer.status_code == 200, url
        if not answer["Content-Type"].startswith("text/html"):
            seen[url] = ""
            continue
        body = answer.content.decode()
        seen[url] = body
        for href in re.findall(r'href="([^"#]+)"', body):
            href = html.unescape(href)
            if href.startswith(prefix) and "fragment=" not in href and not SKIP.search(href):
                queue.append(href)
    return seen


def test_no_customer_page_shows_codes_ids_or_unformatted_amounts(tree, catalog, client, fake):
    sub = customer_with_history(tree, catalog, fake)
    org = tree["PC1"]
    account = sub.box_account
    internal = {account.box_enterprise_id, account.admin_login} | set(
        BoxUser.objects.filter(account=account)
        .exclude(box_user_id=None)
        .values_list("box_user_id", flat=True)
    )
    internal.discard("")
    codes = set(OPERATIONS) | set(
        AuditEvent.objects.filter(organization=org).values_list("action", flat=True)
    )
    assert {"account.signup", "seat.assigned", "order.created"} <= codes

    client.force_login(tree["PC1.admin"])
    pages = crawl(client, f"/portal/{org.pk}/", f"/portal/{org.pk}/")
    must_visit = [
        "",
        "orders/",
        "subscriptions/",
        f"subscriptions/{sub.pk}/",
        "invoices/",
        "invoices/upcoming/",
        "audit/",
    ]
    assert {f"/portal/{org.pk}/{path}" for path in must_visit} <= set(pages)
    assert len(pages) >= 12

    problems = []
    for url, body in pages.items():
        text = visible_text(body)
        problems += [f"{url}: step or action code {c!r}" for c in codes if c in text]
        problems += [f"{url}: internal id {i!r}" for i in internal if i in text]
        problems += [f"{url}: internal id {m!r}" for m in HASH_ID.findall(text)]
        amounts = UNFORMATTED.findall(BEFORE_ROUNDING.sub("", text))
        problems += [f"{url}: unformatted amount {m!r}" for m in amounts]
    assert problems == []

    # and what they show instead
    change = pages[f"/portal/{org.pk}/orders/"]
    assert "Scheduled for 1 Mar 2027" in visible_text(change)
    first_order = sub.orders.order_by("pk").first()
    steps = visible_text(pages[f"/portal/{org.pk}/orders/{first_order.pk}/"])
    assert "Open your Box account" in steps and "Connect your Box account to the portal" in steps
    activity = visible_text(pages[f"/portal/{org.pk}/audit/"])
    assert "Gave someone a seat" in activity and "Placed an order" in activity


def test_an_action_without_its_own_sentence_still_reads_without_its_code():
    from portal.plain import action_words, step_words

    assert action_words("seat.assigned") == "Gave someone a seat"
    assert action_words("provisioning.user_requested") == "Asked Box to create a person's user"
    assert action_words("invoice.something_new") == "An invoice: something new"
    assert action_words("gadget.spun") == "Something: spun"
    assert step_words("account.signup") == "Open your Box account"
    assert step_words("account.unheard_of") == "Work at Box"
