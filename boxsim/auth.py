"""Box's token endpoint and the bearer-token check of every API call.

Grants: client credentials (`box_subject_type=enterprise`) and the JWT bearer grant, both for
the app's service account in an enterprise that authorised the app.
"""

import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from werkzeug.wrappers import Request, Response

from boxsim import service
from boxsim.errors import ApiError, OAuthError, json_response
from boxsim.store import Store

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_AUDIENCE = "https://api.box.com/oauth2/token"
JWT_HASHES = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}
BAD_SUB = "Please check the 'sub' claim. The 'sub' specified is invalid."
JWT_MAX_LIFETIME = 60  # seconds: Box refuses assertions that expire later than this


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def _app_and_secret(conn, form) -> object:
    app = service.app_by_client_id(conn, form.get("client_id"))
    if app is None or app["client_secret"] != form.get("client_secret"):
        raise OAuthError("invalid_client", "The client credentials are invalid")
    return app


def _grant_for_enterprise(conn, app, subject_type, subject_id) -> tuple[int, int]:
    """The enterprise and service account a token for this app and subject is issued to."""
    if subject_type == "user":
        raise OAuthError(
            "invalid_request",
            "Cannot obtain user token based on the enterprise configuration for your app",
        )
    if subject_type != "enterprise":
        raise OAuthError(
            "invalid_request", "Invalid box_subject_type parameter or parameter missing"
        )
    enterprise = service.enterprise_by_id(conn, subject_id) if str(subject_id).isdigit() else None
    if enterprise is None or enterprise["status"] == "cancelled":
        raise _invalid_grant("Grant credentials are invalid")
    grant = service.authorization(conn, app["client_id"], enterprise["id"])
    if grant is None:
        raise OAuthError(
            "unauthorized_client", "This app is not authorized by the enterprise admin"
        )
    return enterprise["id"], grant["service_account_id"]


def _check_assertion(conn, app, assertion: str, base_url: str) -> dict:
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(payload_b64))
        signature = _b64decode(signature_b64)
    except ValueError:
        raise _invalid_grant("Invalid JWT assertion") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _invalid_grant("Invalid JWT assertion")
    algorithm = JWT_HASHES.get(header.get("alg"))
    if algorithm is None:
        raise _invalid_grant("Please check the 'alg' header: RS256, RS384 or RS512 is required.")
    key = conn.execute(
        "SELECT * FROM app_keys WHERE key_id = ? AND client_id = ?",
        (header.get("kid"), app["client_id"]),
    ).fetchone()
    if key is None:
        raise _invalid_grant('"kid" invalid, unable to lookup correct key')
    public_key = serialization.load_pem_public_key(key["public_key_pem"].encode())
    try:
        public_key.verify(
            signature,
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            algorithm(),
        )
    except InvalidSignature:
        raise _invalid_grant(
            'Signature verification error. The public key identified by "kid" must correspond '
            "to the private key used for signing."
        ) from None
    if claims.get("iss") != app["client_id"]:
        raise _invalid_grant("Please check the 'iss' claim.")
    if claims.get("aud") not in (TOKEN_AUDIENCE, f"{base_url}/oauth2/token"):
        raise _invalid_grant("Please check the 'aud' claim.")
    exp = claims.get("exp")
    current = time.time()
    if not isinstance(exp, int | float) or exp <= current:
        raise _invalid_grant(
            "Current date time must be before the expiration date time listed in the 'exp' claim."
        )
    if exp > current + JWT_MAX_LIFETIME:
        raise _invalid_grant(
            "Please check the 'exp' claim. The 'exp' value exceeds the maximum value of 60 "
            "seconds beyond the issue time."
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 16 <= len(jti) <= 128:
        raise _invalid_grant("Please check the 'jti' claim. A unique 'jti' value is required.")
    conn.execute("DELETE FROM jwt_ids WHERE expires_at < ?", (current,))
    if conn.execute("SELECT 1 FROM jwt_ids WHERE jti = ?", (jti,)).fetchone():
        raise _invalid_grant("Please check the 'jti' claim. A unique 'jti' value is required.")
    conn.execute("INSERT INTO jwt_ids (jti, expires_at) VALUES (?, ?)", (jti, exp))
    if "sub" not in claims:
        raise _invalid_grant(BAD_SUB)
    return claims


def token_endpoint(request: Request, store: Store, token_ttl: float) -> Response:
    """POST /oauth2/token."""
    form = request.form
    grant_type = form.get("grant_type")
    try:
        if grant_type not in ("client_credentials", JWT_GRANT):
            raise OAuthError("invalid_request", "Invalid grant_type parameter or parameter missing")
        with store.write() as conn:
            app = _app_and_secret(conn, form)
            if grant_type == "client_credentials":
                enterprise_id, user_id = _grant_for_enterprise(
                    conn, app, form.get("box_subject_type"), form.get("box_subject_id")
                )
            else:
                assertion = form.get("assertion")
                if not assertion:
                    raise OAuthError("invalid_request", "Missing assertion parameter")
                claims = _check_assertion(conn, app, assertion, request.host_url.rstrip("/"))
                try:
                    enterprise_id, user_id = _grant_for_enterprise(
                        conn, app, claims.get("box_sub_type"), claims.get("sub")
                    )
                except OAuthError as error:
                    if error.error == "invalid_grant":
                        raise _invalid_grant(
                            "Please check the 'sub' claim. The 'sub' specified is invalid."
                        ) from None
                    raise
            token, expires_in = service.issue_token(
                conn, app["client_id"], enterprise_id, user_id, token_ttl
            )
    except OAuthError as error:
        return error.response()
    return json_response(
        {
            "access_token": token,
            "expires_in": expires_in,
            "restricted_to": [],
            "token_type": "bearer",
        }
    )


def revoke_endpoint(request: Request, store: Store) -> Response:
    """POST /oauth2/revoke: revoking an unknown token is not an error, as at Box."""
    form = request.form
    try:
        with store.write() as conn:
            app = _app_and_secret(conn, form)
            conn.execute(
                "UPDATE tokens SET revoked = 1 WHERE token = ? AND client_id = ?",
                (form.get("token", ""), app["client_id"]),
            )
    except OAuthError as error:
        return error.response()
    return Response(status=200)


def unauthorized(error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="Service"'
    if error:
        challenge += f', error="{error}", error_description="The access token provided is invalid."'
    return ApiError(401, "unauthorized", "Unauthorized", headers={"WWW-Authenticate": challenge})


def authenticate(request: Request, store: Store):
    """The caller's token as (token, client_id, enterprise_id, user_id), or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    with store.read() as conn:
        row = conn.execute(
            "SELECT t.*, e.status AS enterprise_status FROM tokens t "
            "JOIN enterprises e ON e.id = t.enterprise_id "
            "JOIN users u ON u.id = t.user_id WHERE t.token = ?",
            (token.strip(),),
        ).fetchone()
    if (
        row is None
        or row["revoked"]
        or row["expires_at"] <= time.time()
        or row["enterprise_status"] != "active"
    ):
        raise unauthorized("invalid_token")
    return row["token"], row["client_id"], row["enterprise_id"], row["user_id"]
