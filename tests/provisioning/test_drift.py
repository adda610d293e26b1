"""Drift you can act on, against the Box simulator: a Box user without a seat adopted into a free
seat or into a seat bought for it (its cost shown first and charged exactly), removed from Box,
or ignored; a quota put right at Box; one consistent snapshot (a job finishing between the
listing and the comparison is no drift); the settle beat's accounts; the console pages and
their isolation."""

from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from billing.models import Charge
from boxsim.testing import box_client
from orders import services as orders_services
from orders.models import SeatAssignment, SeatStatus
from portal import clock
from portal.errors import Conflict
from portal.models import AuditEvent
from provisioning import drift, engine, reconcile, services
from provisioning.connector import get_connector
from provisioning.connector.base import ApiCredentials
from provisioning.models import BoxUser, BoxUserStatus, DriftHandling, DriftItem, DriftKind
from tests.factories import SYSTEM
from tests.orders.conftest import subscribe
from tests.provisioning.conftest import link_account, new_enterprise

pytestmark = pytest.mark.django_db

GB = 1024**3


def _run(account):
    engine.run_until_idle([account.pk], timeout=30)


def _client(sim, enterprise):
    return box_client(
        sim.url,
        django_settings.BOX_PLATFORM_CLIENT_ID,
        django_settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )


@pytest.fixture
def box(tree, catalog, fake, platform_sim, sim_settings):
    """C11's R1 Business subscription (3 seats at 16.00 USD a month from 1 Jan 2027, two of
    them assigned) running in a simulated enterprise where two more users were made behind the
    portal's back."""
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=3)
    enterprise = new_enterprise(platform_sim, seats=10)
    account = link_account(tree["C11"], enterprise)
    sub.box_account = account
    sub.save(update_fields=["box_account"])
    domain = f"drift{enterprise['enterprise_id']}.example.com"
    for name in ("ann", "bob"):
        orders_services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"{name}@{domain}", name=name.title()
        )
    _run(account)
    bulk = platform_sim.control.bulk_users(enterprise["enterprise_id"], 2, login_domain=domain)
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    assert (report.opened, report.by_kind) == (2, {DriftKind.UNKNOWN_IN_BOX: 2})
    items = {
        i.login: i for i in DriftItem.objects.filter(account=account, resolved_at__isnull=True)
    }
    return {
        "sub": sub,
        "account": account,
        "enterprise": enterprise,
        "client": _client(platform_sim, enterprise),
        "first": items[bulk["logins"][0]],
        "second": items[bulk["logins"][1]],
        "domain": domain,
        "charges": Charge.objects.filter(subscription=sub).count(),
    }


def test_adopting_into_a_free_seat_costs_nothing_and_makes_the_box_user_a_seat(tree, box):
    sub, item = box["sub"], box["first"]
    with clock.frozen_today(date(2027, 1, 10)):
        cost = orders_services.adoption_preview(sub)
        assert (cost.adds_seat, cost.free, cost.now, cost.per_period) == (
            False,
            1,
            Decimal("0"),
            Decimal("0"),
        )
        seat = orders_services.seat_adopt(actor=tree["P.admin"], item=item)
    item.refresh_from_db()
    assert (item.handling, item.job.operation, item.handled_by) == (
        DriftHandling.ADOPTING,
        "user.adopt",
        tree["P.admin"],
    )
    assert seat.status == SeatStatus.PENDING
    _run(box["account"])
    seat.refresh_from_db()
    user = seat.box_user
    assert (seat.status, seat.email, user.box_user_id, user.status) == (
        SeatStatus.ACTIVE,
        item.login,
        item.key,
        BoxUserStatus.ACTIVE,
    )
    remote = box["client"].users.get_user_by_id(item.key, fields=["external_app_user_id"])
    assert remote.external_app_user_id == f"seat-{seat.pk}"
    # the next reconciliation no longer finds it; nothing was charged
    report = reconcile.account_reconcile(box["account"], actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 1, 1)
    item.refresh_from_db()
    assert item.resolved_at is not None
    assert Charge.objects.filter(subscription=sub).count() == box["charges"]
    sub.refresh_from_db()
    assert sub.quantity == 3
    assert list(
        AuditEvent.objects.filter(action__in=("provisioning.drift_adopting", "seat.adopted"))
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["provisioning.drift_adopting", "seat.adopted"]


def test_adopting_with_every_seat_taken_needs_consent_and_charges_the_added_seat(tree, box):
    sub = box["sub"]
    with clock.frozen_today(date(2027, 1, 10)):
        orders_services.seat_adopt(actor=tree["P.admin"], item=box["first"])
        cost = orders_services.adoption_preview(sub)
        # 16.00 USD x 22 of 31 days
        assert (cost.adds_seat, cost.now, cost.per_period, cost.days_left, cost.days) == (
            True,
            Decimal("11.35"),
            Decimal("16.0000"),
            22,
            31,
        )
        with pytest.raises(Conflict, match=r"All 3 seats of .* are taken"):
            orders_services.seat_adopt(actor=tree["P.admin"], item=box["second"])
        sub.refresh_from_db()
        assert (sub.quantity, Charge.objects.filter(subscription=sub).count()) == (
            3,
            box["charges"],
        )
        assert SeatAssignment.objects.filter(subscription=sub).count() == 3
        box["second"].refresh_from_db()
        assert box["second"].handling == DriftHandling.NONE

        seat = orders_services.seat_adopt(actor=tree["P.admin"], item=box["second"], add_seat=True)
    sub.refresh_from_db()
    assert sub.quantity == 4
    assert Charge.objects.filter(subscription=sub).count() == box["charges"] + 1
    charge = Charge.objects.filter(subscription=sub).latest("pk")
    assert (charge.amount, charge.quantity, charge.unit_price) == (
        Decimal("11.35"),
        Decimal("1"),
        Decimal("16.0000"),
    )
    _run(box["account"])
    seat.refresh_from_db()
    assert seat.status == SeatStatus.ACTIVE


def test_removing_from_box_deletes_the_user_there(tree, box, platform_sim):
    item = box["second"]
    job = drift.drift_remove(item=item, actor=tree["P.admin"])
    assert job.operation == "user.delete"
    _run(box["account"])
    job.refresh_from_db()
    assert job.state == "succeeded"
    listed = {u.id for u in get_connector().users_list(_creds(box["account"]))}
    assert item.key not in listed
    report = reconcile.account_reconcile(box["account"], actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 1, 1)
    assert BoxUser.objects.get(box_user_id=item.key).status == BoxUserStatus.DELETED


def _creds(account):
    return ApiCredentials(
        enterprise_id=account.box_enterprise_id,
        client_id=account.client_id,
        client_secret=account.client_secret,
    )


def test_an_ignored_item_stays_ignored_while_it_lasts(tree, box):
    item = drift.drift_ignore(item=box["first"], actor=tree["P.admin"], note="Kept by the customer")
    report = reconcile.account_reconcile(box["account"], actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 2, 0)
    item.refresh_from_db()
    assert (item.handling, item.note, item.resolved_at) == (
        DriftHandling.IGNORED,
        "Kept by the customer",
        None,
    )
    with pytest.raises(Conflict, match="already handled"):
        drift.drift_remove(item=item, actor=tree["P.admin"])


def test_a_quota_changed_at_box_is_put_right(tree, box):
    account = box["account"]
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login=f"q@{box['domain']}",
        name="Q",
        external_app_user_id="q-1",
        space_amount=5 * GB,
    )
    _run(account)
    user = BoxUser.objects.get(account=account, external_app_user_id="q-1")
    box["client"].users.update_user_by_id(user.box_user_id, space_amount=GB)
    reconcile.account_reconcile(account, actor=SYSTEM)
    item = DriftItem.objects.get(account=account, kind=DriftKind.QUOTA_MISMATCH)
    job = drift.drift_fix(item=item, actor=tree["P.admin"])
    assert (job.operation, job.payload) == ("user.update", {"changes": {"space_amount": 5 * GB}})
    _run(account)
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    assert report.by_kind == {DriftKind.UNKNOWN_IN_BOX: 2}
    item.refresh_from_db()
    assert item.resolved_at is not None


def test_a_job_finishing_between_listing_and_comparing_is_no_drift(box):
    account = box["account"]
    listed_at = clock.now()
    before = list(get_connector().users_list(_creds(account)))
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login=f"late@{box['domain']}",
        name="Late",
        external_app_user_id="late-1",
    )
    _run(account)  # the user is created at Box after the listing was made
    report = reconcile.account_reconcile(
        account, actor=SYSTEM, remote_users=before, listed_at=listed_at
    )
    assert (report.opened, report.still_open) == (0, 2)
    # a later run with a fresh listing compares the user and finds nothing wrong
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 2, 0)


def test_the_settle_beat_takes_accounts_whose_jobs_all_ended_since_their_reconcile(box):
    account = box["account"]
    settled = reconcile.accounts_settled_since_reconcile
    assert account.pk not in set(settled().values_list("pk", flat=True))
    job = services.box_user_create(
        actor=SYSTEM,
        account=account,
        login=f"s@{box['domain']}",
        name="S",
        external_app_user_id="s-1",
    )
    assert account.pk not in set(settled().values_list("pk", flat=True))  # still running
    _run(account)
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert account.pk in set(settled().values_list("pk", flat=True))
    reconcile.account_reconcile(account, actor=SYSTEM)
    assert account.pk not in set(settled().values_list("pk", flat=True))


def test_console_shows_the_cost_and_acts_with_a_redirect(client, tree, box):
    item = box["first"]
    client.force_login(tree["P.admin"])
    base = f"/console/{tree['P'].pk}/provisioning/drift/"
    listing = client.get(base)
    assert listing.status_code == 200
    assert listing.content.decode().count('data-drift="unknown_in_box"') == 2
    with clock.frozen_today(date(2027, 1, 10)):
        page = client.get(f"{base}{item.pk}/")
        assert "Takes one of the 1 free seats" in page.content.decode()
        assert "16.00 USD per seat and month" in page.content.decode()
        response = client.post(f"{base}{item.pk}/", {"action": "adopt"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.handling == DriftHandling.ADOPTING
    with clock.frozen_today(date(2027, 1, 10)):
        page = client.get(f"{base}{box['second'].pk}/").content.decode()
    assert "buys one more seat, <strong>11.35 USD</strong> now (22 of 31 days)" in page
    assert "<strong>16.00 USD</strong> more per month" in page


@pytest.mark.parametrize("who", ["R2.admin", "S1.admin"])
def test_another_sellers_drift_item_is_a_404_and_nothing_changes(client, tree, box, who):
    item = box["first"]
    client.force_login(tree[who])
    org = tree[who.split(".")[0]]
    url = f"/console/{org.pk}/provisioning/drift/{item.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "ignore"}).status_code == 404
    listing = client.get(f"/console/{org.pk}/provisioning/drift/")
    assert 'data-drift="' not in listing.content.decode()
    item.refresh_from_db()
    assert (
        item.handling,
        AuditEvent.objects.filter(action__startswith="provisioning.drift_").count(),
    ) == (
        "",
        0,
    )


def test_the_resellers_staff_see_their_customers_drift_but_cannot_act(client, tree, box):
    item = box["first"]
    client.force_login(tree["R1.admin"])
    url = f"/console/{tree['R1'].pk}/provisioning/drift/{item.pk}/"
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-action="' not in page.content.decode()
    assert client.post(url, {"action": "ignore"}).status_code == 302
    item.refresh_from_db()
    assert item.handling == ""


# --- the API ------------------------------------------------------------------------------


def _api(user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return api


def _logins(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["login"] for row in response.json()["results"])


def test_api_lists_drift_by_what_is_left_to_do_and_settles_it(tree, box):
    first, second = box["first"], box["second"]
    api = _api(tree["P.admin"])
    both = sorted([first.login, second.login])
    assert _logins(api.get("/api/v1/provisioning/drift/")) == both
    assert _logins(api.get("/api/v1/provisioning/drift/", {"customer": tree["C11"].pk})) == both
    detail = api.get(f"/api/v1/provisioning/drift/{first.pk}/").json()
    assert (detail["kind"], detail["actions"], detail["customer"]) == (
        "unknown_in_box",
        ["adopt", "remove", "ignore"],
        tree["C11"].pk,
    )
    url = f"/api/v1/provisioning/drift/{first.pk}/settle/"
    # bad input: a clear 400 and nothing changes
    for body, field in (({"action": "explode"}, "action"), ({"action": "fix"}, "action")):
        bad = api.post(url, body, format="json")
        assert bad.status_code == 400, bad.content
        assert field in bad.json()["error"]["fields"]
    assert DriftItem.objects.get(pk=first.pk).handling == ""
    done = api.post(url, {"action": "ignore", "note": "Kept by the customer"}, format="json")
    assert (done.status_code, done.json()["handling"], done.json()["actions"]) == (
        200,
        DriftHandling.IGNORED,
        [],
    )
    assert _logins(api.get("/api/v1/provisioning/drift/")) == [second.login]
    assert _logins(api.get("/api/v1/provisioning/drift/", {"show": "handled"})) == [first.login]
    again = api.post(url, {"action": "ignore"}, format="json")
    assert again.status_code == 409 and "already handled" in again.json()["error"]["message"]
    removed = api.post(
        f"/api/v1/provisioning/drift/{second.pk}/settle/", {"action": "remove"}, format="json"
    )
    assert removed.status_code == 200
    assert removed.json()["job"] is not None
    assert (
        AuditEvent.objects.filter(action__startswith="provisioning.drift_").count(),
        _logins(api.get("/api/v1/provisioning/drift/")),
    ) == (2, [])


@pytest.mark.parametrize("who", ["R2.admin", "S1.admin", "C11.admin"])
def test_api_another_tenants_drift_is_a_404_and_nothing_changes(tree, box, who):
    api = _api(tree[who])
    item = box["first"]
    assert _logins(api.get("/api/v1/provisioning/drift/")) == []
    assert api.get(f"/api/v1/provisioning/drift/{item.pk}/").status_code == 404
    refused = api.post(
        f"/api/v1/provisioning/drift/{item.pk}/settle/", {"action": "ignore"}, format="json"
    )
    assert (refused.status_code, refused.json()["error"]["message"]) == (
        404,
        "No such drift item.",
    )
    assert DriftItem.objects.get(pk=item.pk).handling == ""
    assert not AuditEvent.objects.filter(action__startswith="provisioning.drift_").exists()


def test_api_the_resellers_staff_see_drift_but_cannot_settle_it(tree, box):
    api = _api(tree["R1.admin"])
    item = box["first"]
    assert _logins(api.get("/api/v1/provisioning/drift/")) == sorted(
        [item.login, box["second"].login]
    )
    refused = api.post(
        f"/api/v1/provisioning/drift/{item.pk}/settle/", {"action": "ignore"}, format="json"
    )
    assert refused.status_code == 403
    assert DriftItem.objects.get(pk=item.pk).handling == ""
