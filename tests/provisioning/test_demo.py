"""The provisioning demo seed registers the platform app in the demo's simulator (the demo's
Box accounts come from the demo orders), and without a simulator it says so and goes on."""

import pytest

from portal.demo import seed
from provisioning.models import BoxAccount

pytestmark = pytest.mark.django_db


def test_without_a_simulator_the_seed_says_so(monkeypatch, capsys):
    monkeypatch.delenv("PORTAL_DEMO_BOXSIM_URL", raising=False)
    seed()
    assert "no Box simulator running" in capsys.readouterr().out
    # opened by the demo orders (the sandbox customer's too), waiting for a worker
    assert BoxAccount.objects.count() == 4


def test_an_unreachable_simulator_is_a_note_not_a_crash(monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_DEMO_BOXSIM_URL", "http://127.0.0.1:9")
    seed()
    assert "does not answer" in capsys.readouterr().out


def test_with_the_simulator_the_platform_app_is_registered_once(monkeypatch, own_sim, capsys):
    monkeypatch.setenv("PORTAL_DEMO_BOXSIM_URL", own_sim.url)
    seed()
    seed()
    assert "platform app is registered" in capsys.readouterr().out
    # the app exists: an enterprise can authorise it by its client id
    from django.conf import settings

    enterprise = own_sim.control.create_enterprise(
        name="Probe", plan="business", seats=3, client_id=settings.BOX_PLATFORM_CLIENT_ID
    )
    assert enterprise["client_id"] == settings.BOX_PLATFORM_CLIENT_ID
