"""Box's two error shapes: the API's ClientError and the token endpoint's OAuth2 error."""

import json
import secrets

from werkzeug.wrappers import Response

HELP_URL = "http://developers.box.com/docs/#errors"

# The short message Box puts in `message` for an error code without a more specific one.
_DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Request rate limit exceeded, please try again later",
    500: "Internal Server Error",
    503: "Unavailable",
    504: "Gateway Timeout",
}


def new_request_id() -> str:
    return secrets.token_hex(8)


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ApiError(Exception):
    """An error answered in Box's ClientError shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        *,
        context_info: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message or _DEFAULT_MESSAGES.get(status, "Error")
        self.context_info = context_info
        self.headers = headers or {}

    def body(self, request_id: str) -> dict:
        body = {
            "type": "error",
            "status": self.status,
            "code": self.code,
            "help_url": HELP_URL,
            "message": self.message,
            "request_id": request_id,
        }
        if self.context_info is not None:
            body["context_info"] = self.context_info
        return body

    def response(self, request_id: str) -> Response:
        return json_response(self.body(request_id), self.status, self.headers)


class OAuthError(Exception):
    """An error of the token endpoint: `{"error", "error_description"}`, status 400."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        return json_response(
            {"error": self.error, "error_description": self.description}, self.status
        )


def bad_parameter(name: str, message: str, reason: str = "invalid_parameter") -> ApiError:
    """Box's 400 for a request field that is missing or invalid."""
    return ApiError(
        400,
        "bad_request",
        "Bad Request",
        context_info={"errors": [{"reason": reason, "name": name, "message": message}]},
    )


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, "not_found", message)
