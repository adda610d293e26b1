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
