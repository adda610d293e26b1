"""State is kept in the SQLite file: a restarted (or killed and restarted) simulator has it all."""

from box_sdk_gen import CreateGroupMembershipGroup, CreateGroupMembershipUser, GetEventsStreamType

from boxsim.testing import start_simulator
from tests.boxsim.conftest import Api, login_for, sdk_client


def snapshot(client) -> dict:
    users = client.users.get_users(fields=["login", "space_used", "role", "status"])
    groups = client.groups.get_groups()
    events = client.events.get_events(stream_type=GetEventsStreamType.ADMIN_LOGS)
    return {
        "users": [
            (u.id, u.login, u.space_used, u.role.value, u.status.value) for u in users.entries
        ],
        "groups": [(g.id, g.name) for g in groups.entries],
        "memberships": [
            (m.id, m.user.id, m.group.id)
            for g in groups.entries
            for m in client.memberships.get_group_memberships(g.id).entries
        ],
        "events": [(e.event_id, e.event_type.value) for e in events.entries],
    }


def write_state(sim, recorder) -> tuple[dict, dict, str]:
    account = sim.control.create_enterprise(name="Durable Inc", plan="business", seats=5)
    client = sdk_client(sim, account, recorder)
    ada = client.users.create_user("Ada", login=login_for(account, "ada"))
    client.users.create_user("Bob", login=login_for(account, "bob"))
    team = client.groups.create_group("Team")
    client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=ada.id), CreateGroupMembershipGroup(id=team.id)
    )
    sim.control.set_space_used(ada.id, 123_456)
    token = Api(sim.url, recorder, account).token().json()["access_token"]
    return account, snapshot(client), token


def test_state_survives_a_restart(tmp_path, recorder):
    sim = start_simulator(data_path=tmp_path / "state.sqlite3")
    try:
        account, before, token = write_state(sim, recorder)
        assert len(before["users"]) == 3 and len(before["events"]) == 5
        mail_before = sim.control.mail()
        sim = sim.restart()  # same data file, same port
        assert snapshot(sdk_client(sim, account, recorder)) == before
        assert sim.control.mail() == mail_before
        # an access token issued before the restart still works
        me = Api(sim.url, recorder, account).get("/2.0/users/me", token=token)
        assert me.json()["id"] == account["service_account_id"]
        state = sim.control.enterprise(account["enterprise_id"])
        assert (state["plan"], state["seats"], state["seats_used"]) == ("business", 5, 3)
        assert state["storage_used"] == 123_456
    finally:
        sim.stop()


def test_state_survives_a_crash(tmp_path, recorder):
    data = tmp_path / "crash.sqlite3"
    sim = start_simulator(data_path=data)
    try:
        account, before, _ = write_state(sim, recorder)
        sim.kill()
        sim = start_simulator(data_path=data)
        assert snapshot(sdk_client(sim, account, recorder)) == before
    finally:
        sim.stop()
