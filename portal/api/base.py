"""The one shape of the API's viewsets: tenant-first lookups, declared query parameters.

Every viewset of the API derives from ``TenantViewSet`` and says:

- ``visible_queryset(request)``: what the caller may see (always built from ``portal.access``
  or the app's selectors). Lists start from it; ``get_visible(pk, action=None)`` looks one
  object up *inside* it, so a missing object, another tenant's object and an id that cannot be
  one (``abc``, ``-1``) are the same 404; with an ``action`` (``orders.place``) the access rule
  is checked on the object's organization (``owner``), so visible but not allowed is a 403 with
  the reason.
- ``query_params``: per action, the query parameters it accepts (``portal.params.Param``: type,
  allowed values, longest length, the ORM lookup). They are parsed before the handler runs (a
  bad value is a 400 naming the parameter, never a database error), read by the handler from
  ``self.query``, applied by ``filter_queryset`` when they have a lookup, and documented in the
  OpenAPI schema from the same declaration (``portal.api.schema``).
- ``idempotent_actions``: the actions that accept an ``Idempotency-Key`` header; the schema
  documents the header and its 422, the handler reads it with ``self.idempotency_key()``.
"""

from __future__ import annotations

from operator import attrgetter

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.response import Response

from portal import access
from portal.params import Param, apply_lookups, parse_query

IDEMPOTENCY_HEADER = "Idempotency-Key"


class TenantViewSet(viewsets.GenericViewSet):
    model = None  # the model listed and looked up (the schema reads the id's type from it)
    owner: str | None = None  # dotted path from an object to its organization, for the rules
    view_rule: str | None = None  # the rule every lookup checks unless told another
    not_found_message = "Not found."
    query_params: dict[str, tuple[Param, ...]] = {}
    idempotent_actions: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is not None and "queryset" not in cls.__dict__:
            # For the schema generator only: every request goes through visible_queryset.
            cls.queryset = cls.model._default_manager.none()

    # --- what the caller may see ----------------------------------------------------------

    def visible_queryset(self, request) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or self.request is None:
            return self.queryset
        return self.visible_queryset(self.request)

    def owner_of(self, obj):
        return attrgetter(self.owner)(obj) if self.owner else obj

    def get_visible(self, pk, action: str | None = None):
        """The object ``pk`` inside what the caller may see (404 otherwise), with ``action``
        (or the viewset's ``view_rule``) checked on its organization (403 with the reason)."""
        return access.get_visible(
            self.visible_queryset(self.request),
            pk,
            user=self.request.user,
            action=action or self.view_rule,
            owner=self.owner_of,
            message=self.not_found_message,
        )

    # --- declared query parameters --------------------------------------------------------

    @classmethod
    def declared_params(cls, action: str | None, method: str = "GET") -> tuple[Param, ...]:
        """The query parameters ``action`` accepts (reads only: a write takes a body)."""
        if method.upper() not in ("GET", "HEAD"):
            return ()
        return tuple(cls.query_params.get(action or "", ()))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # After authentication (401 first), before the handler touches the database.
        self.query = parse_query(
            self.declared_params(self.action, request.method), request.query_params
        )

    def filter_queryset(self, queryset):
        return apply_lookups(
            queryset, self.declared_params(self.action, self.request.method), self.query
        )

    # --- answers --------------------------------------------------------------------------

    def paginated(self, queryset, serializer_class=None) -> Response:
        """One page of ``queryset``, serialized (the viewset's serializer by default)."""
        serializer_class = serializer_class or self.get_serializer_class()
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    def list_visible(self) -> Response:
        """The usual list: what the caller sees, filtered by the declared parameters, paged."""
        return self.paginated(self.filter_queryset(self.get_queryset()))

    def idempotency_key(self) -> str:
        """The request's idempotency key as sent ("" for none; the service checks its form)."""
        return self.request.headers.get(IDEMPOTENCY_HEADER, "")
