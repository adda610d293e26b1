"""How the OpenAPI schema documents what every operation shares, from one place:

- the query parameters each action declares (``TenantViewSet.query_params``), with their type,
  allowed values and longest length;
- the ``Idempotency-Key`` header of the actions that accept one, and the 422 it can answer;
- the error answers, all in the one shape ``{"error": {"code", "message", "fields"}}`` (the
  component ``Error``): 401 and 403 everywhere, 400 where a request carries input, 404 where it
  names an object (in the path, the body or a parameter), 409 on writes, 422 with an
  idempotency key.
"""

from __future__ import annotations

import uritemplate
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from portal.api.base import IDEMPOTENCY_HEADER
from portal.idempotency import MAX_KEY_LENGTH

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: `validation_error`, ...")
    message = serializers.CharField(help_text="For a person; names the field when one is wrong.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per field (or query parameter), its messages; empty when none applies.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error of the API."""

    error = ErrorBodySerializer()


ERRORS = {
    "400": "Bad input: a field, a query parameter or a header is wrong (`fields` names it), "
    "or the request breaks a rule.",
    "401": "No credentials, or a token that is unknown or revoked.",
    "403": "The object is visible, but the caller's role may not do this (the message says "
    "why); or a session request without its CSRF token.",
    "404": "No such object, or it is outside the caller's part of the tree (the same answer).",
    "409": "Clashes with the current state: a duplicate, a wrong state, the last admin.",
    "415": "The body is not JSON (or a form): send `Content-Type: application/json`.",
    "422": "The idempotency key was already used for a different request.",
}

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Send the same key again with the same request (a retry) and get the first answer "
        "back, without doing it twice. Keys are scoped to the customer and the operation; the "
        f"same key with a different request answers 422. 1 to {MAX_KEY_LENGTH} printable "
        "characters."
    ),
)


class AutoSchema(SpectacularAutoSchema):
    def _declared_params(self):
        declared = getattr(self.view, "declared_params", None)
        if declared is None:
            return ()
        return declared(getattr(self.view, "action", None), self.method)

    def _idempotent(self) -> bool:
        return getattr(self.view, "action", None) in getattr(self.view, "idempotent_actions", ())

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        for param in self._declared_params():
            parameters.append(
                OpenApiParameter(
                    param.name,
                    param.openapi_schema(),
                    location=OpenApiParameter.QUERY,
                    required=False,
                    description=param.description,
                )
            )
        if self._idempotent():
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["401", "403"]
        writes = self.method not in SAFE_METHODS
        names_object = bool(uritemplate.variables(self.path))
        has_query = bool(self._declared_params()) or (
            self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        )
        if writes or has_query:
            codes.append("400")
        if writes or names_object or has_query:
            codes.append("404")
        if writes:
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if self._idempotent():
            codes.append("422")
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=ERRORS[code]), code
                )
        return responses
