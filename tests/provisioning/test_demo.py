"""The demo seed makes Box accounts in the demo's simulator, once, and nothing without it."""

import pytest

from portal.demo import seed
from provisioning.models import BoxAccount, BoxUser

pytestmark = pytest.mark.django_db


def test_without_a_simulator_the_seed_makes_no_box_account(monkeypatch, capsys):
    monkeypatch.delenv("PORTAL_DEMO_BOXSIM_URL", raising=False)
    seed()
    assert BoxAccount.objects.count() == 0
    assert "no Box simulator running" in capsys.readouterr().out


def test_an_unreachable_simulator_is_a_note_not_a_crash(monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_DEMO_BOXSIM_URL", "http://127.0.0.1:9")
    seed()
    assert BoxAccount.objects.count() == 0
    assert "does not answer" in capsys.readouterr().out


def test_with_the_simulator_the_seed_makes_accounts_once(monkeypatch, platform_sim, sim_settings):
    monkeypatch.setenv("PORTAL_DEMO_BOXSIM_URL", platform_sim.url)
    seed()
    accounts = {a.customer.name: a for a in BoxAccount.objects.select_related("customer")}
    assert set(accounts) == {"Acme Manufacturing", "Contoso Dental", "Evergreen Law"}
    assert accounts["Acme Manufacturing"].status == "active"
    assert accounts["Evergreen Law"].status == "pending"
    assert list(
        accounts["Evergreen Law"].jobs.order_by("sequence").values_list("operation", flat=True)
    ) == ["account.signup", "account.verify_email", "account.authorize_app", "account.link_admin"]
    assert BoxUser.objects.count() == 8
    remote = platform_sim.control.enterprise(accounts["Acme Manufacturing"].box_enterprise_id)
    assert remote["name"] == "Acme Manufacturing"
    seed()
    assert BoxAccount.objects.count() == 3
    assert BoxUser.objects.count() == 8
