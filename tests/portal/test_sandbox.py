"""The sandbox clock (docs/sandbox-clock.md): a sandbox customer lives on its own day, moved
forward only by its Advance, which runs renewals, issuing, the card payment and dunning for it
alone on each day; the nightly runs, wholesale invoices and revenue figures leave it out; only
the staff of the sellers above it may move it, and another seller's sandbox is a 404."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import CreditNote, Invoice, InvoiceLine, NumberSeries, UsageCollection
from billing.pdf import invoice_html
from billing.services import usage
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import number_series_update
from billing.services.run import RUN, billing_run
from orders.models import Subscription
from payments.services.accounts import invoice_terms_set
from payments.services.cards import autopay_set
from portal import clock, sandbox_clock, services
from portal.actors import NoActor
from portal.errors import PermissionDenied, ValidationError
from portal.models import AuditEvent, Organization, OrgKind
from tests.billing.conftest import listing  # noqa: F401 - the fixture
from tests.factories import SYSTEM, add_member
from tests.orders.conftest import subscribe
from tests.payments_support import GOOD, saved_card

pytestmark = pytest.mark.django_db

START = date(2027, 1, 1)
RENEWAL = date(2027, 2, 1)


@pytest.fixture
def sandboxed(paying, catalog, listing):  # noqa: F811 - the fixture imported above
    """R1's sandbox customer SB and its real customer C12, each with a monthly Business
    subscription from 1 January 2027 (so both renew on 1 February); SB pays automatically by
    a good card. Afterwards the process runs on the real calendar again: only SB's own day
    is 1 January 2027."""
    tree = paying
    clock.set_today(START)
    sb = services.organization_create(
        actor=SYSTEM, parent=tree["R1"], kind=OrgKind.CUSTOMER, name="Sandbox One", sandbox=True
    )
    tree.orgs["SB"] = sb
    for role in ("admin", "billing"):
        tree.users[f"SB.{role}"] = add_member(sb, role, f"sb.{role}@example.test")
    invoice_terms_set(actor=SYSTEM, buyer=sb, days=14)  # its order is provisioned at once
    subs = {
        key: subscribe(tree, catalog, listing, customer=key, offer="R1.business", quantity=3)
        for key in ("SB", "C12")
    }
    saved_card(sb, GOOD)
    autopay_set(actor=SYSTEM, buyer=sb, enabled=True)
    clock.set_today(None)
    return tree, subs


def _reload(org: Organization) -> Organization:
    return Organization.objects.get(pk=org.pk)


def _period_invoices(buyer):
    return Invoice.objects.filter(buyer=buyer, source="period")


# --- the clock --------------------------------------------------------------------------------


def test_on_day_moves_only_this_context_and_comes_back():
    real = timezone.localdate()
    seen = {}
    with clock.on_day(date(2030, 5, 6)):
        assert clock.today() == date(2030, 5, 6)
        assert clock.now().date() == date(2030, 5, 6)
        worker = threading.Thread(target=lambda: seen.update(other=clock.today()))
        worker.start()
        worker.join()
        with clock.on_day(date(2030, 6, 1)):
            assert clock.today() == date(2030, 6, 1)
        assert clock.today() == date(2030, 5, 6)
    assert seen["other"] == real  # another thread never sees it
    assert clock.today() == real
    with clock.frozen_today(date(2029, 1, 1)):  # the process-wide day still works...
        assert clock.today() == date(2029, 1, 1)
        with clock.on_day(date(2030, 1, 1)):  # ...and the context's day comes first
            assert clock.today() == date(2030, 1, 1)
        with clock.on_day(None):
            assert clock.today() == date(2029, 1, 1)


# --- advancing --------------------------------------------------------------------------------


def test_advancing_31_days_renews_once_and_issues_one_paid_invoice_for_the_sandbox_only(
    sandboxed,
):
    tree, subs = sandboxed
    sb = tree["SB"]
    assert sb.sandbox_today == START

    done = sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=sb, days=31)

    assert (
        done.summary() == "Advanced 31 days to 2027-02-01: 1 renewal, 1 invoice issued, 1 payment."
    )
    assert _reload(sb).sandbox_today == RENEWAL
    # each day's usage was collected from its Box account, dated that day
    assert done.usage_collected == 31
    assert (
        UsageCollection.objects.filter(
            account__customer=sb, state="succeeded", day__gt=START, day__lte=RENEWAL
        ).count()
        == 31
    )
    sub = Subscription.objects.get(pk=subs["SB"].pk)
    assert (sub.current_period_start, sub.current_period_end) == (RENEWAL, date(2027, 3, 1))
    [invoice] = _period_invoices(sb)
    assert (invoice.billing_day, invoice.state) == (RENEWAL, "paid")
    assert invoice.issued_at.date() == RENEWAL  # stamped on the sandbox's day
    assert invoice.payments.get().state == "succeeded"
    # nobody else's day moved: the real customer due the same day is untouched, no reseller
    # is billed wholesale for the sandbox, and outside the block the day is the real one
    real = Subscription.objects.get(pk=subs["C12"].pk)
    assert real.current_period_end == RENEWAL
    assert not _period_invoices(tree["C12"]).exists()
    assert not InvoiceLine.objects.filter(
        invoice__source="wholesale", subscription=subs["SB"]
    ).exists()
    assert clock.today() == timezone.localdate()
    event = AuditEvent.objects.get(action="sandbox.advanced")
    assert event.actor == tree["R1.admin"] and event.organization_id == sb.pk
    assert event.after["to"] == "2027-02-01" and event.after["invoices_issued"] == 1


def test_the_sandbox_spends_no_number_of_the_sellers_real_series(sandboxed):
    tree, _ = sandboxed
    sb, r1 = tree["SB"], tree["R1"]
    real_next = NumberSeries.objects.get(seller=r1, kind="invoice").next_number
    real_numbers = set(Invoice.objects.filter(seller=r1, sandbox=False).values_list("number"))

    sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=sb, days=31)

    # its order's first invoice and its renewal: the sandbox series, from 1
    numbers = list(
        Invoice.objects.filter(buyer=sb).order_by("sequence").values_list("number", "sandbox")
    )
    assert numbers == [("SANDBOX-INV-2027-00001", True), ("SANDBOX-INV-2027-00002", True)]
    assert NumberSeries.objects.get(seller=r1, kind="invoice").next_number == real_next
    assert set(Invoice.objects.filter(seller=r1, sandbox=False).values_list("number")) == (
        real_numbers
    )
    # a correction of a sandbox invoice is a sandbox credit note
    invoice = Invoice.objects.get(buyer=sb, number="SANDBOX-INV-2027-00002")
    note = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="Try it")
    assert (note.number, note.sandbox) == ("SANDBOX-CN-2027-00001", True)
    assert not NumberSeries.objects.filter(seller=r1, kind="credit_note").exists()
    assert CreditNote.objects.filter(seller=r1, sandbox=False).count() == 0


def test_a_seller_cannot_take_the_sandbox_prefix_or_series(sandboxed):
    tree, _ = sandboxed
    before = list(NumberSeries.objects.values_list("kind", "prefix", "padding"))
    for kind, prefix, message in (
        ("invoice", "sandbox-{year}-", "Prefixes starting with SANDBOX are kept"),
        ("sandbox_inv", "X-", "Choose invoices or credit notes."),
    ):
        with pytest.raises(ValidationError) as refused:
            number_series_update(
                actor=tree["R1.admin"], seller=tree["R1"], kind=kind, prefix=prefix, padding=5
            )
        assert message in str(refused.value.fields)
    assert list(NumberSeries.objects.values_list("kind", "prefix", "padding")) == before


def test_advance_to_the_next_renewal_and_go_on_from_there(sandboxed):
    tree, _ = sandboxed
    sb = tree["SB"]
    assert sandbox_clock.next_renewal(sb) == RENEWAL
    done = sandbox_clock.sandbox_advance(actor=tree["R1.sales"], customer=sb, to_renewal=True)
    assert (done.end, done.renewals, done.invoices) == (RENEWAL, 1, 1)
    done = sandbox_clock.sandbox_advance(actor=tree["R1.sales"], customer=_reload(sb), days=7)
    assert (done.start, done.end, done.renewals, done.invoices) == (
        RENEWAL,
        date(2027, 2, 8),
        0,
        0,
    )
    assert sandbox_clock.next_renewal(_reload(sb)) == date(2027, 3, 1)


def test_a_declining_card_goes_through_dunning_on_the_sandboxs_days(sandboxed):
    from payments.models import Dunning
    from payments.services.accounts import payment_policy_update
    from payments.services.dunning import dunning_tick
    from tests.payments_support import DECLINED_ON_CHARGE

    tree, subs = sandboxed
    sb = tree["SB"]
    payment_policy_update(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        retry_days="1,3,7",
        suspend_after_days=10,
        cancel_after_days=20,
    )
    saved_card(sb, DECLINED_ON_CHARGE)  # now the default card
    done = sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=sb, to_renewal=True)
    assert (done.invoices, done.payments, done.payments_failed) == (1, 0, 1)
    dunning = Dunning.objects.get(invoice__buyer=sb)
    assert (dunning.started_on, dunning.next_retry_on) == (RENEWAL, date(2027, 2, 2))
    # the nightly tick never moves the sandbox's dunning, even on its retry day
    assert dunning_tick(day=date(2027, 2, 20)) == {"retried": 0, "suspended": 0, "cancelled": 0}
    done = sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=_reload(sb), days=10)
    assert done.dunning == {"retried": 3, "suspended": 1, "cancelled": 0}
    assert "3 payment retries, 1 suspension for non-payment" in done.summary()
    dunning.refresh_from_db()
    assert (dunning.stage, dunning.suspended_on) == ("suspended", date(2027, 2, 11))
    assert Subscription.objects.get(pk=subs["SB"].pk).status == "suspended"


def test_the_nightly_runs_leave_the_sandbox_out(sandboxed):
    tree, subs = sandboxed
    sb = tree["SB"]
    clock.set_today(RENEWAL)
    run = billing_run(actor=RUN, day=RENEWAL)
    assert run.subscriptions_billed == 1  # C12's renewal; never the sandbox's
    assert _period_invoices(tree["C12"]).filter(state="issued").count() == 1
    assert Subscription.objects.get(pk=subs["SB"].pk).current_period_end == RENEWAL
    assert not _period_invoices(sb).exists()
    # the usage collection plans no day of the sandbox's Box account
    usage.usage_collections_plan(day=RENEWAL, actor=RUN)
    assert UsageCollection.objects.filter(day=RENEWAL).exists()
    assert not UsageCollection.objects.filter(account__customer=sb).exists()
    # a month on, R1's wholesale invoice is issued although the sandbox (left behind on its
    # own day) still has a period that ended before it
    clock.set_today(date(2027, 3, 1))
    billing_run(actor=RUN, day=date(2027, 3, 1))
    assert Invoice.objects.filter(buyer=tree["R1"], source="wholesale", state="issued").exists()
    assert _reload(sb).sandbox_today == START


def test_revenue_figures_leave_the_sandbox_out(sandboxed):
    from consoles.dashboards import revenue_and_seats

    tree, _ = sandboxed
    figures = revenue_and_seats(tree["R1.admin"], tree["R1"], date(2027, 1, 15))
    assert figures["seats_now"] == 3  # C12's three seats, not the sandbox's


# --- refusals ---------------------------------------------------------------------------------


def test_advance_without_an_actor_is_refused(sandboxed):
    from django.contrib.auth.models import AnonymousUser

    tree, _ = sandboxed
    for nobody in (None, AnonymousUser()):
        with pytest.raises(NoActor):
            sandbox_clock.sandbox_advance(actor=nobody, customer=tree["SB"], days=1)
    assert _reload(tree["SB"]).sandbox_today == START


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0, "Give a whole number of days from 1 to 400."),
        (401, "Give a whole number of days from 1 to 400."),
        ("abc", "Give a whole number of days from 1 to 400."),
        ("2.5", "Give a whole number of days from 1 to 400."),
        (None, "Give a whole number of days from 1 to 400."),
    ],
)
def test_bad_days_are_refused_and_change_nothing(sandboxed, days, message):
    tree, _ = sandboxed
    with pytest.raises(ValidationError) as caught:
        sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=tree["SB"], days=days)
    assert caught.value.message == message
    assert _reload(tree["SB"]).sandbox_today == START
    assert not AuditEvent.objects.filter(action="sandbox.advanced").exists()


def test_a_real_customer_has_no_clock_to_move(sandboxed):
    tree, subs = sandboxed
    with pytest.raises(ValidationError) as caught:
        sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=tree["C12"], days=31)
    assert "only a sandbox customer's clock can be moved" in caught.value.message
    assert Subscription.objects.get(pk=subs["C12"].pk).current_period_end == RENEWAL
    assert _reload(tree["C12"]).sandbox_today is None


def test_the_customers_own_people_and_other_sellers_cannot_advance(sandboxed):
    tree, _ = sandboxed
    for key in ("SB.admin", "SB.billing", "R2.admin", "C12.admin"):
        with pytest.raises(PermissionDenied):
            sandbox_clock.sandbox_advance(actor=tree[key], customer=tree["SB"], days=1)
    assert _reload(tree["SB"]).sandbox_today == START


def test_only_a_customer_can_be_a_sandbox(tree):
    with pytest.raises(ValidationError):
        services.organization_create(
            actor=SYSTEM, parent=tree["P"], kind=OrgKind.RESELLER, name="No", sandbox=True
        )


# --- the console ------------------------------------------------------------------------------


def test_staff_create_a_sandbox_customer_from_the_console(tree, client):
    client.force_login(tree["R1.sales"])
    r1 = tree["R1"]
    response = client.post(
        f"/console/{r1.pk}/customers/new/", {"name": "Trial Co", "sandbox": "on"}, follow=True
    )
    assert response.status_code == 200
    created = Organization.objects.get(name="Trial Co")
    assert created.sandbox and created.sandbox_today == clock.today()
    assert "The sandbox customer Trial Co was created" in response.content.decode()
    listing_page = client.get(f"/console/{r1.pk}/customers/").content.decode()
    assert '<span class="badge sandbox">Sandbox</span>' in listing_page
    # the edit form has no sandbox switch, and a plain create makes a real customer
    client.post(f"/console/{r1.pk}/customers/new/", {"name": "Real Co"})
    assert not Organization.objects.get(name="Real Co").sandbox


def test_the_console_page_advances_with_a_message(sandboxed, client):
    tree, _ = sandboxed
    r1, sb = tree["R1"], tree["SB"]
    client.force_login(tree["R1.billing"])
    page = client.get(f"/console/{r1.pk}/orgs/{sb.pk}/").content.decode()
    assert "Sandbox — today is 2027-01-01" in page
    for label in ("Advance 1 day", "Advance 7 days", "Advance 30 days", "Advance to next renewal"):
        assert label in page
    assert "csrfmiddlewaretoken" in page
    url = f"/console/{r1.pk}/orgs/{sb.pk}/sandbox/advance/"
    assert client.get(url).status_code == 405
    response = client.post(url, {"to": "renewal"})
    assert response.status_code == 302 and response.url == f"/console/{r1.pk}/orgs/{sb.pk}/"
    page = client.get(response.url).content.decode()
    assert "Advanced 31 days to 2027-02-01: 1 renewal, 1 invoice issued, 1 payment." in page
    assert "Sandbox — today is 2027-02-01" in page
    # bad input: a clear message, nothing moved
    page = client.post(url, {"days": "401"}, follow=True).content.decode()
    assert "Give a whole number of days from 1 to 400." in page
    assert _reload(sb).sandbox_today == RENEWAL


def test_another_sellers_sandbox_is_a_404_in_pages_and_api(sandboxed, client):
    tree, _ = sandboxed
    r2, sb = tree["R2"], tree["SB"]
    client.force_login(tree["R2.admin"])
    assert client.get(f"/console/{r2.pk}/orgs/{sb.pk}/").status_code == 404
    assert (
        client.post(f"/console/{r2.pk}/orgs/{sb.pk}/sandbox/advance/", {"days": 1}).status_code
        == 404
    )
    api = APIClient()
    api.force_authenticate(tree["R2.admin"])
    response = api.post(
        f"/api/v1/organizations/{sb.pk}/sandbox/advance/", {"days": 1}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _reload(sb).sandbox_today == START


def test_the_customers_pages_run_on_its_day_and_its_invoice_says_sandbox(
    sandboxed, client, monkeypatch
):
    from portal import overview

    tree, _ = sandboxed
    sb = tree["SB"]
    sandbox_clock.sandbox_advance(actor=tree["R1.admin"], customer=sb, days=31)
    seen = []
    real_overview = overview.customer_overview

    def spy(customer, *, user):
        seen.append(clock.today())
        return real_overview(customer, user=user)

    monkeypatch.setattr(overview, "customer_overview", spy)
    client.force_login(tree["SB.admin"])
    page = client.get(f"/portal/{sb.pk}/").content.decode()
    assert seen == [RENEWAL]
    assert "Today is 2027-02-01 here" in page
    assert clock.today() == timezone.localdate()
    invoice = _period_invoices(sb).get()
    page = client.get(f"/portal/{sb.pk}/invoices/{invoice.pk}/").content.decode()
    assert "Sandbox: not a real invoice" in page
    assert "Sandbox: not a real invoice" in invoice_html(invoice)
    real = Invoice.objects.filter(buyer=tree["C12"]).first()
    assert "Sandbox: not a real invoice" not in invoice_html(real)


# --- the API ----------------------------------------------------------------------------------


def test_api_advance_and_its_refusals(sandboxed):
    tree, _ = sandboxed
    sb = tree["SB"]
    url = f"/api/v1/organizations/{sb.pk}/sandbox/advance/"
    api = APIClient()
    api.force_authenticate(tree["R1.admin"])
    for body in ({"days": 0}, {"days": 401}, {"days": "abc"}, {}):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["message"].endswith(
            "Give a whole number of days from 1 to 400."
        )
    real = api.post(
        f"/api/v1/organizations/{tree['C12'].pk}/sandbox/advance/", {"days": 1}, format="json"
    )
    assert real.status_code == 400 and "real customer" in real.json()["error"]["message"]
    assert _reload(sb).sandbox_today == START

    response = api.post(url, {"days": 31}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["sandbox_today"], body["renewals"], body["invoices_issued"], body["payments"]) == (
        "2027-02-01",
        1,
        1,
        1,
    )
    organization = api.get(f"/api/v1/organizations/{sb.pk}/").json()
    assert (organization["sandbox"], organization["sandbox_today"]) == (True, "2027-02-01")

    own = APIClient()
    own.force_authenticate(tree["SB.admin"])
    refused = own.post(url, {"days": 1}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert _reload(sb).sandbox_today == RENEWAL


def test_api_creates_a_sandbox_customer(tree):
    api = APIClient()
    api.force_authenticate(tree["R1.sales"])
    response = api.post(
        "/api/v1/organizations/",
        {"kind": "customer", "parent": tree["R1"].pk, "name": "Api Sandbox", "sandbox": True},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["sandbox"], response.json()["sandbox_today"]) == (
        True,
        clock.today().isoformat(),
    )
    refused = api.post(
        "/api/v1/organizations/",
        {"kind": "reseller", "parent": tree["R1"].pk, "name": "No", "sandbox": True},
        format="json",
    )
    assert refused.status_code in (400, 403)
    assert not Organization.objects.filter(name="No").exists()
