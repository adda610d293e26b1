"""The one error contract of the API: every error answers
``{"error": {"code": "...", "message": "...", "fields": {...}}}``."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ApplicationError


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _flatten_fields(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    fields = {}
    for key, value in detail.items():
        if isinstance(value, list):
            fields[key] = [str(v) if not isinstance(v, dict) else _first_message(v) for v in value]
        elif isinstance(value, dict):
            fields[key] = [_first_message(value)]
        else:
            fields[key] = [str(value)]
    return fields


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else _first_message(exc.detail)
        if fields and not non_field:
            field, errors = next(iter(fields.items()))
            message = f"{field}: {errors[0]}"
        response.data = error_body("validation_error", message, fields)
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = getattr(exc, "default_code", "error")
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(str(code), _first_message(detail))
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """Django's 404 (a URL no route matches, e.g. ``/api/v1/orders/1.5/``): under ``/api/`` in
    the one error shape, elsewhere the page."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """An unexpected failure: under ``/api/`` in the one error shape, elsewhere the page."""
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it was logged."),
            status=500,
        )
    return defaults.server_error(request)
