"""Many threads in several client processes at once: uniqueness and seat limits hold exactly."""

import json
import subprocess
import sys
import textwrap

from tests.boxsim.conftest import Api, new_account

PROCESSES = 4
THREADS = 4

WORKER = textwrap.dedent(
    """
    import json, sys, threading
    import requests

    url, client_id, secret, enterprise_id, logins = json.loads(sys.argv[1])
    token = requests.post(url + "/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "box_subject_type": "enterprise", "box_subject_id": enterprise_id}).json()["access_token"]
    results, lock = [], threading.Lock()

    def work(chunk):
        session = requests.Session()
        for login in chunk:
            r = session.post(url + "/2.0/users", json={"name": "Racer", "login": login},
                             headers={"Authorization": "Bearer " + token})
            with lock:
                results.append((r.status_code, r.json()["code"] if r.status_code >= 400 else ""))

    threads = [threading.Thread(target=work, args=(logins[i::THREADS],)) for i in range(THREADS)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(results))
    """
).replace("THREADS", str(THREADS))


def race(sim, account: dict, logins_per_process: list[list[str]]) -> list[tuple[int, str]]:
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                json.dumps(
                    [
                        sim.url,
                        account["client_id"],
                        account["client_secret"],
                        account["enterprise_id"],
                        logins,
                    ]
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for logins in logins_per_process
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        results += [tuple(item) for item in json.loads(out)]
    return results


def test_one_login_wins_however_many_race_for_it(boxsim, recorder):
    account = new_account(boxsim, seats=100)
    shared = [f"dup{n}@race-{account['enterprise_id']}.example.com" for n in range(5)]
    results = race(boxsim, account, [shared * THREADS] * PROCESSES)
    assert len(results) == 5 * THREADS * PROCESSES
    assert results.count((201, "")) == 5
    assert results.count((409, "user_login_already_used")) == 5 * THREADS * PROCESSES - 5
    users = Api(boxsim.url, recorder, account).get("/2.0/users").json()
    assert users["total_count"] == 6


def test_seats_are_never_oversold(boxsim, recorder):
    account = new_account(boxsim, seats=41)  # the admin and 40 more
    logins = [
        [f"p{p}u{n}@seats-{account['enterprise_id']}.example.com" for n in range(20)]
        for p in range(PROCESSES)
    ]
    results = race(boxsim, account, logins)
    assert results.count((201, "")) == 40
    assert results.count((403, "seat_limit_exceeded")) == 40
    state = boxsim.control.enterprise(account["enterprise_id"])
    assert (state["seats"], state["seats_used"]) == (41, 41)
