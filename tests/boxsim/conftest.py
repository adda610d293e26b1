import itertools

import pytest

from boxsim.testing import box_client
from tests.boxsim.spec import BoxSpec, Recorder, SpecViolation

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def box_spec():
    return BoxSpec()


@pytest.fixture
def recorder(box_spec):
    """A requests session whose every response is checked against box-openapi.json at the end
    of the test: a test passes only if all the simulator's answers match Box's description."""
    recorder = Recorder()
    yield recorder
    recorder.session.close()
    problems = []
    for response in recorder.responses:
        try:
            box_spec.validate(response)
        except SpecViolation as problem:
            problems.append(str(problem))
    if problems:
        pytest.fail("answers that break box-openapi.json:\n" + "\n".join(problems))


def new_account(sim, plan: str = "business", seats: int = 20, **extra) -> dict:
    return sim.control.create_enterprise(
        name=f"Test Enterprise {next(_numbers)}", plan=plan, seats=seats, **extra
    )


@pytest.fixture
def account(boxsim):
    """A fresh enterprise (Business, 20 seats) with an authorised app."""
    return new_account(boxsim)


@pytest.fixture
def client(boxsim, account, recorder):
    """Box's SDK, set up as the portal sets it up, for `account`; its calls are recorded."""
    return sdk_client(boxsim, account, recorder)


def sdk_client(sim, account: dict, recorder: Recorder, **options):
    return box_client(
        sim.url,
        account["client_id"],
        account["client_secret"],
        account["enterprise_id"],
        requests_session=recorder.session,
        **options,
    )


def login_for(account: dict, name: str) -> str:
    """An e-mail address unique to this account (logins are unique across all of Box)."""
    return f"{name}@e{account['enterprise_id']}.example.com"


class Api:
    """Plain HTTP calls to the simulator with an access token; every answer is recorded."""

    def __init__(self, url: str, recorder: Recorder, account: dict):
        self.url = url
        self.recorder = recorder
        self.account = account
        self.access_token = None

    def token(self, **overrides):
        form = {
            "grant_type": "client_credentials",
            "client_id": self.account["client_id"],
            "client_secret": self.account["client_secret"],
            "box_subject_type": "enterprise",
            "box_subject_id": self.account["enterprise_id"],
            **overrides,
        }
        form = {k: v for k, v in form.items() if v is not None}
        return self.recorder.session.post(f"{self.url}/oauth2/token", data=form, timeout=30)

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs):
        if token is None:
            if self.access_token is None:
                response = self.token()
                assert response.status_code == 200, response.text
                self.access_token = response.json()["access_token"]
            token = self.access_token
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.recorder.session.request(
            method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(boxsim, recorder, account):
    return Api(boxsim.url, recorder, account)
