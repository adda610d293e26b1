"""Anonymous storefront pages served from Django's cache.

A storefront page shows only the seller's catalog, prices, promotions and brand, which change
rarely and are the same for every anonymous visitor. Rendering one costs a dozen queries; serving
it from the cache costs none. An entry's key names:

- the seller (each brand belongs to one seller),
- a version token of the seller and of each seller above it (a reseller's storefront shows its
  parent's offers and depends on its costs), and a global token for what every seller shows
  (plans),
- the language, the day (prices take effect on a date), the path and the query string reduced
  to the parameters the pages understand (currency, term, seats).

Nothing is deleted when something changes: the change replaces the seller's version token
(``bump``), so every key built afterwards differs and the old entries expire on their own. The
token is replaced at once and again when the transaction commits, so that a request which read
the old rows while the change was being written cannot store them under the new token.

A page is served from and stored in the cache only for a visitor without a session or message
cookie (so never for a signed-in person), and stored only when rendering it set no cookie, used
no CSRF token and queued no message: nothing in it belongs to one visitor.
"""

from __future__ import annotations

import functools
import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from portal import clock

_VERSION = "storefront:v:{}"
_GLOBAL = "storefront:v:all"
# The query parameters storefront pages read; a request with any other is not cached.
_PARAMS = ("currency", "term", "seats")
HEADER = "X-Storefront-Cache"


def _token() -> str:
    return uuid.uuid4().hex[:16]


def _replace(keys: list[str]) -> None:
    cache.set_many({key: _token() for key in keys}, timeout=None)


def _bump_keys(keys: list[str]) -> None:
    _replace(keys)
    transaction.on_commit(lambda: _replace(keys))


def bump(*seller_ids: int | None) -> None:
    """Forget the cached storefront pages of these sellers and of every seller below them."""
    keys = [_VERSION.format(pk) for pk in seller_ids if pk]
    if keys:
        _bump_keys(keys)


def bump_all() -> None:
    """Forget every cached storefront page (a plan changed: every seller shows plans)."""
    _bump_keys([_GLOBAL])


def _versions(seller) -> str:
    keys = [_GLOBAL, *(_VERSION.format(pk) for pk in seller.ancestor_ids)]
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        # add(): two processes meeting a missing token agree on the first one stored.
        cache.add(key, _token(), timeout=None)
    if missing:
        found.update(cache.get_many(missing))
    return ".".join(str(found.get(key, "")) for key in keys)


def _query(request) -> str | None:
    """The query string reduced to the parameters the pages read, in a fixed order; None when
    the request carries anything else (a promotion code, a stray parameter)."""
    if any(name not in _PARAMS for name in request.GET):
        return None
    parts = []
    for name in _PARAMS:
        values = request.GET.getlist(name)
        if len(values) > 1:
            return None
        value = (values[0] if values else "").strip()[:12]
        parts.append(value.upper() if name == "currency" else value.lower())
    return "&".join(parts)


def _anonymous(request) -> bool:
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def page_key(request) -> str | None:
    """The cache key of this request's page, or None when the page must be rendered afresh."""
    seller = getattr(request, "storefront", None)
    if (
        not settings.STOREFRONT_CACHE_SECONDS
        or request.method != "GET"
        or seller is None
        or not _anonymous(request)
    ):
        return None
    query = _query(request)
    if query is None:
        return None
    raw = "|".join(
        [
            _versions(seller),
            translation.get_language() or "",
            clock.today().isoformat(),
            request.path,
            query,
        ]
    )
    return f"storefront:page:{seller.pk}:{hashlib.sha256(raw.encode()).hexdigest()}"


def _storable(request, response) -> bool:
    queued = getattr(getattr(request, "_messages", None), "added_new", False)
    return (
        response.status_code == 200
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not queued
        and not response.has_header("Set-Cookie")
    )


def storefront_page(view):
    """Serve the view's page from the cache for anonymous visitors (see the module's doc)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = page_key(request)
        if key is None:
            return view(request, *args, **kwargs)
        entry = cache.get(key)
        if entry is not None:
            response = HttpResponse(entry["content"], content_type=entry["content_type"])
            # As the rendered page does: a signed-in visitor's copy differs, and so may a
            # language chosen by cookie.
            patch_vary_headers(response, ["Cookie"])
            response[HEADER] = "hit"
        else:
            response = view(request, *args, **kwargs)
            if _storable(request, response):
                cache.set(
                    key,
                    {"content": response.content, "content_type": response["Content-Type"]},
                    timeout=settings.STOREFRONT_CACHE_SECONDS,
                )
                response[HEADER] = "miss"
        return response

    return wrapper
