"""A favicon per brand: the brand's colour with the first letter of its name, drawn as SVG.

``/favicon.svg`` answers for the host's brand (the storefront's, or the provider's on a host
no seller claims), so a bookmark or a browser asking on its own gets the right one. Pages drawn
in another brand than the host's (a customer's console on the provider's host shows its
seller's brand) carry that brand's icon inline, so no URL ever takes a brand's id."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET

DEFAULT_COLOUR = "#1f4e8c"


def initial(name: str) -> str:
    """The first letter or digit of the brand's name, upper case ("?" for none)."""
    return next((c.upper() for c in name or "" if c.isalnum()), "?")


def _ink(colour: str) -> str:
    """White on dark colours, near-black on light ones (relative luminance, WCAG)."""
    try:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    except (ValueError, IndexError):
        return "#ffffff"

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return "#111111" if luminance > 0.4 else "#ffffff"


def favicon_svg(brand) -> str:
    colour = brand.primary_color if brand is not None else DEFAULT_COLOUR
    letter = escape(initial(brand.name)) if brand is not None else "·"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="14" fill="{escape(colour)}"/>'
        '<text x="32" y="45" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="38" font-weight="700" fill="{_ink(colour)}">{letter}</text></svg>'
    )


def href(shown, host_brand) -> str:
    """The icon link of a page drawn in ``shown``: the host's ``/favicon.svg`` (versioned by the
    brand's last change, so a new colour shows at once) or, for another brand, inline."""
    if shown is not None and host_brand is not None and shown.pk != host_brand.pk:
        return "data:image/svg+xml," + quote(favicon_svg(shown))
    version = int(shown.updated_at.timestamp()) if shown is not None and shown.updated_at else 0
    return f"{reverse('favicon')}?v={version}"


@require_GET
def favicon(request):
    response = HttpResponse(
        favicon_svg(getattr(request, "brand", None)), content_type="image/svg+xml"
    )
    # Short when asked bare (a brand may change its colour); pages link a versioned URL.
    response["Cache-Control"] = (
        "public, max-age=86400" if "v" in request.GET else "public, max-age=600"
    )
    return response
