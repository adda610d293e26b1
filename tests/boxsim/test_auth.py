"""The token endpoint (client credentials and JWT bearer grants) and bearer-token checks."""

import base64
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.boxsim.conftest import Api, new_account, sdk_client

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def test_client_credentials_grant(api, account):
    response = api.token()
    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "restricted_to", "token_type"]
    assert (body["expires_in"], body["token_type"], body["restricted_to"]) == (3600, "bearer", [])
    assert len(body["access_token"]) == 32
    me = api.get("/2.0/users/me", token=body["access_token"])
    assert me.json()["id"] == account["service_account_id"]


def test_token_errors(boxsim, api, account):
    other = new_account(boxsim)
    cases = [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "unknown-client"}, "invalid_client"),
        ({"grant_type": None}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"box_subject_type": "user"}, "invalid_request"),
        ({"box_subject_id": other["enterprise_id"]}, "unauthorized_client"),
        ({"box_subject_id": "12345"}, "invalid_grant"),
    ]
    for overrides, error in cases:
        response = api.token(**overrides)
        assert (response.status_code, response.json()["error"]) == (400, error), overrides
        assert response.json()["error_description"]


def test_unknown_or_missing_token_is_401(boxsim, api, box_spec):
    response = api.get("/2.0/users", token="not-a-token")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["request_id"] == response.headers["box-request-id"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    bare = api.recorder.session.get(f"{boxsim.url}/2.0/users/me", timeout=10)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == 'Bearer realm="Service"'


def test_tokens_expire(boxsim, api):
    before = boxsim.control.settings()
    boxsim.control.settings(token_ttl=1)
    try:
        response = api.token()
        assert response.json()["expires_in"] == 1
        token = response.json()["access_token"]
        assert api.get("/2.0/users/me", token=token).status_code == 200
        time.sleep(1.2)
        assert api.get("/2.0/users/me", token=token).status_code == 401
    finally:
        boxsim.control.settings(token_ttl=before["token_ttl"])


def test_sdk_gets_a_new_token_after_a_401(boxsim, account, recorder):
    client = sdk_client(boxsim, account, recorder)
    client.users.get_user_me()
    assert boxsim.control.expire_tokens(enterprise_id=account["enterprise_id"]) == 1
    assert client.users.get_users().total_count == 1
    assert [(method, path, status) for method, path, status in recorder.calls()] == [
        ("POST", "/oauth2/token", 200),
        ("GET", "/2.0/users/me", 200),
        ("GET", "/2.0/users", 401),
        ("POST", "/oauth2/token", 200),
        ("GET", "/2.0/users", 200),
    ]


def test_revoked_token_is_refused(api, account):
    token = api.token().json()["access_token"]
    revoke = api.recorder.session.post(
        f"{api.url}/oauth2/revoke",
        data={
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
            "token": token,
        },
        timeout=10,
    )
    assert revoke.status_code == 200
    assert api.get("/2.0/users/me", token=token).status_code == 401


# --- JWT bearer grant ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def assertion(private_key, key_id: str, claims: dict) -> str:
    """A JWT signed with RS256, as Box's SDKs build it."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": key_id}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = private_key.sign(
        f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{header}.{payload}.{b64url(signature)}"


def test_jwt_bearer_grant(boxsim, recorder):
    account = new_account(boxsim, jwt=True)
    config = account["jwt_config"]
    settings = config["boxAppSettings"]
    assert config["enterpriseID"] == account["enterprise_id"]
    private_key = serialization.load_pem_private_key(
        settings["appAuth"]["privateKey"].encode(), settings["appAuth"]["passphrase"].encode()
    )
    key_id = settings["appAuth"]["publicKeyID"]
    api = Api(boxsim.url, recorder, account)

    def claims(**changes):
        return {
            "iss": settings["clientID"],
            "sub": config["enterpriseID"],
            "box_sub_type": "enterprise",
            "aud": "https://api.box.com/oauth2/token",
            "jti": str(uuid.uuid4()),
            "exp": int(time.time()) + 30,
            **changes,
        }

    def grant(jwt: str):
        return api.token(
            grant_type=JWT_GRANT,
            assertion=jwt,
            box_subject_type=None,
            box_subject_id=None,
        )

    good = claims()
    response = grant(assertion(private_key, key_id, good))
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert api.get("/2.0/users/me", token=token).json()["id"] == account["service_account_id"]

    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = [
        assertion(private_key, key_id, good),  # the same jti twice
        assertion(private_key, "nokey123", claims()),
        assertion(stranger_key, key_id, claims()),
        assertion(private_key, key_id, claims(exp=int(time.time()) - 5)),
        assertion(private_key, key_id, claims(exp=int(time.time()) + 600)),
        assertion(private_key, key_id, claims(sub="12345")),
        assertion(private_key, key_id, claims(iss="someone-else")),
        assertion(private_key, key_id, claims(aud="https://example.com/token")),
        "not.a.jwt",
    ]
    for jwt in refused:
        response = grant(jwt)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_as_user_is_refused(api, account):
    """The simulator's apps may not act as another user, so the header is refused, not ignored."""
    response = api.get("/2.0/users/me", headers={"As-User": account["admin_user_id"]})
    assert (response.status_code, response.json()["code"]) == (
        403,
        "access_denied_insufficient_permissions",
    )
