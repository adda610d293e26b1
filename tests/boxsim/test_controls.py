"""The /_sim/ test controls and the command line, on a simulator of their own (reset wipes it)."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from boxsim.testing import SimulatorError, start_simulator
from tests.boxsim.conftest import Api, login_for, sdk_client


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    handle = start_simulator(
        data_path=tmp_path_factory.mktemp("controls") / "boxsim.sqlite3",
        rate_limit=250,
        rate_window=30,
        token_ttl=900,
        seed=5,
    )
    yield handle
    handle.stop()


def test_settings_come_from_the_command_line(sim):
    assert sim.control.settings() == {
        "rate_limit": 250,
        "rate_window": 30.0,
        "token_ttl": 900.0,
        "seed": 5,
    }
    assert sim.control.set_fault("get_users", error_500=0.5)["get_users"]["seed"] == 5
    sim.control.clear_faults("get_users")
    assert sim.control.faults() == {}


def test_create_enterprise_answers_credentials(sim, recorder):
    account = sim.control.create_enterprise(
        name="Acme", plan="starter", seats=4, admin_login="boss@acme-controls.example.com"
    )
    assert set(account) == {
        "enterprise_id",
        "name",
        "plan",
        "seats",
        "client_id",
        "client_secret",
        "admin_login",
        "admin_password",
        "admin_user_id",
        "service_account_id",
        "service_account_login",
    }
    assert (account["name"], account["plan"], account["seats"]) == ("Acme", "starter", 4)
    assert account["admin_login"] == "boss@acme-controls.example.com"
    assert account["enterprise_id"].isdigit() and account["client_id"].isalnum()
    me = sdk_client(sim, account, recorder).users.get_user_me()
    assert me.id == account["service_account_id"]
    state = sim.control.enterprise(account["enterprise_id"])
    assert state == {
        "enterprise_id": account["enterprise_id"],
        "name": "Acme",
        "status": "active",
        "plan": "starter",
        "seats": 4,
        "seats_used": 1,
        "storage": 100 * 1024**3,
        "storage_used": 0,
        "max_upload_size": 2 * 1024**3,
        "admin_login": "boss@acme-controls.example.com",
        "authorized_apps": [account["client_id"]],
    }


def test_one_app_in_several_enterprises(sim, recorder):
    app = sim.control.create_app(name="Reseller", client_id="reseller0app", client_secret="s3cret")
    assert app == {"client_id": "reseller0app", "client_secret": "s3cret", "name": "Reseller"}
    first = sim.control.create_enterprise(name="One", client_id="reseller0app")
    second = sim.control.create_enterprise(name="Two", client_id="reseller0app")
    assert first["client_id"] == second["client_id"] == "reseller0app"
    assert first["service_account_id"] != second["service_account_id"]
    for account in (first, second):
        users = sdk_client(sim, account, recorder).users.get_users()
        assert [u.login for u in users.entries] == [account["admin_login"]]


def test_bad_control_requests(sim):
    cases = [
        lambda: sim.control.create_enterprise(plan="platinum"),
        lambda: sim.control.create_enterprise(plan="individual", seats=2),
        lambda: sim.control.create_enterprise(plan="business", seats=2),
        lambda: sim.control.create_enterprise(client_id="missing"),
        lambda: sim.control.create_app(client_id="reseller0app"),
        lambda: sim.control.bulk_users("1", 5),
        lambda: sim.control.set_space_used("1", 5),
        lambda: sim.control.add_public_key("reseller0app", "not a key"),
        lambda: sim.control.settings(rate_window=0),
    ]
    for case in cases:
        with pytest.raises(SimulatorError):
            case()


def test_bulk_users_respects_seats_and_logs_events(sim, recorder):
    account = sim.control.create_enterprise(name="Bulk", plan="business", seats=6)
    with pytest.raises(SimulatorError):
        sim.control.bulk_users(account["enterprise_id"], 6)
    created = sim.control.bulk_users(account["enterprise_id"], 5, name_prefix="Member")
    assert created["created"] == 5
    domain = f"bulk-{account['enterprise_id']}.example.com"
    assert created["logins"] == [f"user00001@{domain}", f"user00005@{domain}"]
    api = Api(sim.url, recorder, account)
    names = [u["name"] for u in api.get("/2.0/users").json()["entries"][1:]]
    assert names == [f"Member {n:05d}" for n in range(1, 6)]
    events = api.get("/2.0/events", params={"stream_type": "admin_logs"}).json()
    assert [e["event_type"] for e in events["entries"]].count("NEW_USER") == 5


def test_mail_is_kept_per_recipient(sim):
    for email in ("a@mail-controls.example.com", "b@mail-controls.example.com"):
        response = requests.post(
            f"{sim.url}/signup",
            data={
                "name": "Mailer",
                "email": email,
                "password": "Password1",
                "plan": "business",
                "seats": "3",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 303
    again = requests.post(
        f"{sim.url}/signup",
        data={"name": "Again", "email": "A@mail-controls.example.com", "password": "Password1"},
        timeout=10,
    )
    assert again.status_code == 400
    assert "An account already exists for this email address." in again.text
    assert [m["to"] for m in sim.control.mail(to="B@mail-controls.example.com")] == [
        "b@mail-controls.example.com"
    ]
    assert len(sim.control.mail()) >= 2


def test_reset_wipes_the_state(sim, recorder):
    account = sim.control.create_enterprise(name="Gone Soon")
    api = Api(sim.url, recorder, account)
    api.post("/2.0/users", json={"name": "Temp", "login": login_for(account, "temp")})
    sim.control.set_fault("get_users", error_500=1.0)
    sim.control.reset()
    assert sim.control.faults() == {}
    assert sim.control.mail() == []
    with pytest.raises(SimulatorError):
        sim.control.enterprise(account["enterprise_id"])
    assert api.get("/2.0/users").status_code == 401
    fresh = sim.control.create_enterprise(name="After Reset")
    assert int(fresh["enterprise_id"]) > int(account["enterprise_id"])  # ids are never reused


def test_command_line_help():
    result = subprocess.run(
        [sys.executable, "-m", "boxsim", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    for option in ("--host", "--port", "--data", "--rate-limit", "--rate-window", "--token-ttl"):
        assert option in result.stdout
