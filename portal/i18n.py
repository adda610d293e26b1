"""Which language a page, an e-mail or a document is written in.

An organization's ``language`` is its own choice; empty means its seller's (a customer reads
what its reseller writes in), and English when no one up the tree chose. The storefront is in
the visitor's chosen language (the language cookie set by ``language_choose``), else its
seller's. Seller consoles stay in English (they are not translated).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from portal.models import Organization


def supported(code: str | None) -> str | None:
    """``code`` when the portal speaks it, else None."""
    return code if code in dict(settings.LANGUAGES) else None


def language_of(org: Organization | None) -> str:
    """The organization's language: its own, else the nearest seller's above it, else the
    default. Reads the parent (one query when it is not loaded) only for an empty choice."""
    while org is not None:
        if supported(org.language):
            return org.language
        org = org.parent if org.parent_id else None
    return settings.LANGUAGE_CODE


def storefront_language(request) -> str:
    """The visitor's choice, else the storefront seller's own (not its parent's: that would
    cost a query on every page, cached ones included), else the default."""
    chosen = supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    seller = getattr(request, "storefront", None)
    return chosen or supported(getattr(seller, "language", None)) or settings.LANGUAGE_CODE


@require_GET
def language_choose(request):
    """Remember a visitor's language in a cookie and go back. A link rather than a form, so
    that storefront pages carry no per-visitor token and stay cacheable; the cookie changes
    nothing but the words shown."""
    target = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    code = supported(request.GET.get("language"))
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
        )
    return response
