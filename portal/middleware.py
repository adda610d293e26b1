from django.conf import settings
from django.utils import translation

from portal.i18n import storefront_language
from portal.selectors import brand_for_host
from portal.services import current_ip


class BrandMiddleware:
    """Resolves the storefront from the request's host: ``request.brand`` is the brand whose
    domain it is, or the provider's brand for a host no seller claims."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.brand = brand_for_host(request.get_host())
        request.storefront = request.brand.organization if request.brand else None
        token = current_ip.set(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)


class LanguageMiddleware:
    """Speaks the storefront's language (the visitor's choice, else the seller's) for the whole
    request; the consoles switch to their organization's (``portal.views._console``).
    ``override`` puts the previous language back afterwards, so nothing leaks between
    requests served by the same thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The API answers integrations in one language whatever the host's seller speaks.
        if request.path.startswith("/api/"):
            language = settings.LANGUAGE_CODE
        else:
            language = storefront_language(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
