"""Preview, then confirm: the preview's amounts are what the confirmation writes; nothing is
written before the confirmation; a stale preview is refused with the new figures; a double
confirmation applies once; another tenant's subscription is a 404 on the pages."""

import re
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Charge, CreditNote
from billing.services.preview import upcoming_invoice
from orders import services
from orders.models import Order, SeatAssignment, SubscriptionChange
from orders.services.previews import Amount, PreviewChanged
from portal import clock
from portal.errors import ValidationError
from portal.models import AuditEvent, IdempotencyRecord
from provisioning.models import BoxUser, ProvisioningJob
from tests.orders.conftest import subscribe

pytestmark = pytest.mark.django_db

SEATS_3_MORE = "3 more seats of Business, 9 of 31 days"


def counts() -> dict[str, int]:
    """What a preview must leave alone."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Order,
            Charge,
            CreditNote,
            ProvisioningJob,
            SubscriptionChange,
            SeatAssignment,
            BoxUser,
            AuditEvent,
            IdempotencyRecord,
        )
    }


def added_seats(tree, catalog, fake):
    """Business, 5 seats at 15.00 from 1 January 2027, previewed on 23 January (9 of 31 days
    left): billing case 2."""
    sub = subscribe(tree, catalog, fake, quantity=5, day=date(2027, 1, 1))
    clock.set_today(date(2027, 1, 23))
    return sub


# --- changes --------------------------------------------------------------------------------


def test_a_seat_change_preview_is_what_the_confirmation_charges(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    before = counts()
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, quantity=8
    )
    # nothing was written: no order, no charge, no Box job, no audit row
    assert counts() == before
    sub.refresh_from_db()
    assert sub.quantity == 5
    assert preview.summary == "5 → 8 seats"
    assert (preview.timing, preview.effective_on) == ("immediate", date(2027, 1, 23))
    assert preview.now == (Amount(SEATS_3_MORE, Decimal("13.06")),)
    assert preview.now_total == Decimal("13.06")
    assert preview.box == ("Seats at Box go from 5 to 8.",)
    # the next invoice (1 February): 5 x 15.00 + 10 % = 82.50 before; 8 x 15.00 + 13.06,
    # + 10 % = 146.37 after
    assert (preview.next_before.billing_day, preview.next_before.total) == (
        date(2027, 2, 1),
        Decimal("82.50"),
    )
    assert preview.next_after.total == Decimal("146.37")

    order = services.subscription_change_confirm(
        actor=tree["PC1.admin"],
        subscription=sub,
        quantity=8,
        fingerprint=preview.fingerprint,
        idempotency_key="confirm-1",
    )
    assert order.state == "provisioning"
    assert [Amount(c.description, c.amount) for c in Charge.objects.filter(order=order)] == list(
        preview.now
    )
    sub.refresh_from_db()
    assert sub.quantity == 8
    assert upcoming_invoice(sub).total == preview.next_after.total
    assert list(
        ProvisioningJob.objects.filter(
            account=sub.box_account, operation="account.change_seats"
        ).values_list("payload", flat=True)
    ) == [{"seats": 9}]


def test_an_upgrade_preview_shows_the_credit_and_the_charge(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, offer="P.starter", quantity=3, day=date(2027, 3, 1))
    clock.set_today(date(2027, 3, 11))
    business = catalog.plans["business"]
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, plan=business
    )
    assert preview.now == (
        Amount("Unused Starter, 3 seats, 21 of 31 days", Decimal("-10.16")),
        Amount("Business, 3 seats, 21 of 31 days", Decimal("30.48")),
    )
    assert preview.now_total == Decimal("20.32")
    assert preview.box == ("The Box account moves to Business, 3 seats.",)
    order = services.subscription_change_confirm(
        actor=tree["PC1.admin"],
        subscription=sub,
        plan=business,
        fingerprint=preview.fingerprint,
        idempotency_key="up-1",
    )
    assert [Amount(c.description, c.amount) for c in Charge.objects.filter(order=order)] == list(
        preview.now
    )


def test_a_scheduled_change_costs_nothing_now_and_shows_the_next_invoice(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    before = counts()
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, quantity=3
    )
    assert counts() == before
    assert (preview.timing, preview.effective_on, preview.now) == (
        "end_of_term",
        date(2027, 2, 1),
        (),
    )
    assert preview.box == ("Nothing changes at Box before 01 Feb 2027.",)
    # 3 x 15.00 + 10 % from the renewal on 1 February
    assert (preview.next_before.total, preview.next_after.total) == (
        Decimal("82.50"),
        Decimal("49.50"),
    )


def test_a_stale_preview_is_refused_with_the_new_figures(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, quantity=8
    )
    # a day later the same change costs less: 8 of 31 days are left
    clock.set_today(date(2027, 1, 24))
    before = counts()
    with pytest.raises(PreviewChanged) as refused:
        services.subscription_change_confirm(
            actor=tree["PC1.admin"],
            subscription=sub,
            quantity=8,
            fingerprint=preview.fingerprint,
            idempotency_key="late-1",
        )
    assert counts() == before
    assert refused.value.preview.now == (
        Amount("3 more seats of Business, 8 of 31 days", Decimal("11.61")),
    )
    assert refused.value.preview.fingerprint != preview.fingerprint


def test_seats_bought_meanwhile_make_the_preview_stale(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, plan=catalog.plans["enterprise"]
    )
    services.subscription_change(actor=tree["P.admin"], subscription=sub, quantity=6)
    before = counts()
    with pytest.raises(PreviewChanged):
        services.subscription_change_confirm(
            actor=tree["PC1.admin"],
            subscription=sub,
            plan=catalog.plans["enterprise"],
            fingerprint=preview.fingerprint,
            idempotency_key="k",
        )
    assert counts() == before


def test_a_double_confirmation_applies_once(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    preview = services.subscription_change_preview(
        actor=tree["PC1.admin"], subscription=sub, quantity=8
    )
    confirm = {
        "actor": tree["PC1.admin"],
        "subscription": sub,
        "quantity": 8,
        "fingerprint": preview.fingerprint,
        "idempotency_key": "double",
    }
    first = services.subscription_change_confirm(**confirm)
    second = services.subscription_change_confirm(**confirm)
    assert first.pk == second.pk
    assert Order.objects.filter(kind="change").count() == 1
    assert Charge.objects.filter(subscription=sub).count() == 1
    sub.refresh_from_db()
    assert sub.quantity == 8


def test_a_confirmation_without_a_preview_is_refused(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    before = counts()
    with pytest.raises(ValidationError, match="Preview the change first"):
        services.subscription_change_confirm(
            actor=tree["PC1.admin"], subscription=sub, quantity=8, fingerprint=""
        )
    assert counts() == before


def test_a_refused_change_is_refused_by_its_preview(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    before = counts()
    with pytest.raises(ValidationError, match="Nothing would change"):
        services.subscription_change_preview(actor=tree["PC1.admin"], subscription=sub, quantity=5)
    assert counts() == before


# --- cancellation ---------------------------------------------------------------------------


def test_ending_now_previews_the_credit_note_it_then_issues(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=4)
    clock.set_today(date(2027, 1, 23))
    before = counts()
    preview = services.subscription_cancel_preview(
        actor=tree["P.admin"], subscription=sub, immediately=True
    )
    assert counts() == before
    assert len(preview.now) == 1
    assert preview.now[0].amount == Decimal("-17.42")  # 4 x 15.00 x 9/31, before tax
    assert preview.now[0].description.startswith("Credit note on invoice ")
    assert preview.box == ("The Box account is closed; your people can no longer sign in.",)
    assert preview.next_after is None
    services.subscription_cancel_confirm(
        actor=tree["P.admin"],
        subscription=sub,
        immediately=True,
        fingerprint=preview.fingerprint,
        idempotency_key="end-1",
    )
    note = CreditNote.objects.get()
    # the number taken during the preview was given back: the series has no gap
    assert (note.subtotal, note.number) == (Decimal("17.42"), "CN-2027-00001")


def test_ending_at_the_term_end_costs_nothing_now(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    preview = services.subscription_cancel_preview(actor=tree["PC1.admin"], subscription=sub)
    assert (preview.timing, preview.now) == ("end_of_term", ())
    assert (preview.next_after.total, preview.next_after.notes) == (
        Decimal("0.00"),
        ("The subscription ends on 01 Feb 2027; nothing more is billed in advance.",),
    )
    assert preview.box == ("The Box account is closed on 01 Feb 2027.",)
    assert preview.next_before.total == Decimal("82.50")


# --- seat import ----------------------------------------------------------------------------

CSV = "email,name\r\nann@pc1.test,Ann Lee\r\nnot-an-address,Bo\r\n"


def test_a_seat_import_preview_says_who_gets_a_seat_and_writes_nothing(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    before = counts()
    preview = services.seats_import_preview(actor=tree["PC1.admin"], subscription=sub, text=CSV)
    assert counts() == before
    assert [(r.line, r.email, r.ok) for r in preview.rows] == [
        (2, "ann@pc1.test", True),
        (3, "not-an-address", False),
    ]
    assert preview.box == ("A Box user is created for ann@pc1.test.",)
    assert preview.now == ()
    # the file comes back from the confirmation form with other line endings
    report = services.seats_import_confirm(
        actor=tree["PC1.admin"],
        subscription=sub,
        text=CSV.replace("\r\n", "\n"),
        fingerprint=preview.fingerprint,
        idempotency_key="imp-1",
    )
    assert [(r.email, r.ok) for r in report] == [("ann@pc1.test", True), ("not-an-address", False)]
    again = services.seats_import_confirm(
        actor=tree["PC1.admin"],
        subscription=sub,
        text=CSV,
        fingerprint=preview.fingerprint,
        idempotency_key="imp-1",
    )
    assert again is None
    assert SeatAssignment.objects.filter(subscription=sub).count() == 1


def test_a_seat_taken_meanwhile_makes_the_import_preview_stale(tree, catalog, fake):
    sub = added_seats(tree, catalog, fake)
    preview = services.seats_import_preview(actor=tree["PC1.admin"], subscription=sub, text=CSV)
    services.seat_assign(
        actor=tree["PC1.admin"], subscription=sub, email="ann@pc1.test", name="Ann Lee"
    )
    with pytest.raises(PreviewChanged) as refused:
        services.seats_import_confirm(
            actor=tree["PC1.admin"],
            subscription=sub,
            text=CSV,
            fingerprint=preview.fingerprint,
            idempotency_key="imp-2",
        )
    assert refused.value.preview.assigned == 0
    assert SeatAssignment.objects.filter(subscription=sub).count() == 1
    assert not IdempotencyRecord.objects.filter(operation="seats.import").exists()


# --- pages ----------------------------------------------------------------------------------

FINGERPRINT = re.compile(r'name="fingerprint" value="([0-9a-f]+)"')
TOKEN = re.compile(r'name="token" value="([A-Za-z0-9_-]+)"')


def test_the_customer_page_previews_then_confirms_once(tree, catalog, fake, client):
    sub = added_seats(tree, catalog, fake)
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    before = counts()
    page = client.post(
        url, {"action": "change", "plan": sub.plan_id, "quantity": 8, "term": "monthly"}
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert counts() == before
    assert 'data-testid="preview-now-total"' in body and "13.06 USD" in body
    assert "146.37 USD" in body and "82.50 USD" in body
    assert "Seats at Box go from 5 to 8." in body
    form = {
        "action": "confirm_change",
        "plan": sub.plan_id,
        "quantity": 8,
        "term": "monthly",
        "fingerprint": FINGERPRINT.search(body).group(1),
        "token": TOKEN.search(body).group(1),
    }
    done = client.post(url, form)
    assert (done.status_code, done["Location"]) == (302, url)
    again = client.post(url, form)  # the second click of a double click
    assert again.status_code == 302
    assert Order.objects.filter(kind="change").count() == 1
    assert [c.amount for c in Charge.objects.filter(subscription=sub)] == [Decimal("13.06")]
    shown = client.get(url).content.decode()
    assert "13.06 USD" in shown


def test_a_stale_confirmation_shows_the_new_preview(tree, catalog, fake, client):
    sub = added_seats(tree, catalog, fake)
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    body = client.post(
        url, {"action": "change", "plan": sub.plan_id, "quantity": 8, "term": "monthly"}
    ).content.decode()
    clock.set_today(date(2027, 1, 24))
    before = counts()
    page = client.post(
        url,
        {
            "action": "confirm_change",
            "plan": sub.plan_id,
            "quantity": 8,
            "term": "monthly",
            "fingerprint": FINGERPRINT.search(body).group(1),
            "token": TOKEN.search(body).group(1),
        },
    )
    shown = page.content.decode()
    assert page.status_code == 409
    assert counts() == before
    assert "changed since your preview" in shown and "11.61 USD" in shown


@pytest.mark.parametrize(
    ("who", "console", "owner"),
    [
        ("C21.admin", "C21", "C11"),
        ("C11.admin", "C11", "C21"),
        ("R2.admin", "R2", "C11"),
        ("R1.admin", "R1", "C21"),
    ],
)
def test_another_tenants_subscription_is_a_404(tree, catalog, fake, client, who, console, owner):
    offer = "R1.business" if owner == "C11" else "R2.business"
    sub = subscribe(tree, catalog, fake, customer=owner, offer=offer, quantity=5)
    clock.set_today(date(2027, 1, 23))
    client.force_login(tree[who])
    prefix = "console" if console.startswith("R") else "portal"
    url = f"/{prefix}/{tree[console].pk}/subscriptions/{sub.pk}/"
    before = counts()
    for data in (
        {"action": "change", "plan": sub.plan_id, "quantity": 8, "term": "monthly"},
        {
            "action": "confirm_change",
            "plan": sub.plan_id,
            "quantity": 8,
            "term": "monthly",
            "fingerprint": "0" * 32,
            "token": "t",
        },
        {"action": "cancel"},
        {"action": "confirm_cancel", "fingerprint": "0" * 32, "token": "t"},
    ):
        response = client.post(url, data)
        assert response.status_code == 404
        assert "Business" not in response.content.decode()
    assert counts() == before


# --- API ------------------------------------------------------------------------------------


def test_the_api_previews_then_applies_exactly_the_preview(tree, catalog, fake):
    from rest_framework.test import APIClient

    sub = added_seats(tree, catalog, fake)
    api = APIClient()
    api.force_authenticate(tree["PC1.admin"])
    url = f"/api/v1/subscriptions/{sub.pk}/change/"
    before = counts()
    preview = api.post(url, {"quantity": 8, "preview": True}, format="json")
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert counts() == before
    assert (body["now"], body["now_total"], body["next_after"]["total"]) == (
        [{"description": SEATS_3_MORE, "amount": "13.06"}],
        "13.06",
        "146.37",
    )
    assert body["box"] == ["Seats at Box go from 5 to 8."]
    # a day later the figures differ: 409, nothing written
    clock.set_today(date(2027, 1, 24))
    stale = api.post(url, {"quantity": 8, "fingerprint": body["fingerprint"]}, format="json")
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "preview_changed")
    assert counts() == before
    fresh = api.post(url, {"quantity": 8, "preview": True}, format="json").json()
    done = api.post(
        url,
        {"quantity": 8, "fingerprint": fresh["fingerprint"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-1",
    )
    assert done.status_code == 201
    assert [str(c.amount) for c in Charge.objects.filter(subscription=sub)] == ["11.61"]
    # another customer's admin previews nothing of it
    other = APIClient()
    other.force_authenticate(tree["C21.admin"])
    hidden = other.post(url, {"quantity": 9, "preview": True}, format="json")
    assert hidden.status_code == 404 and "Business" not in hidden.content.decode()
