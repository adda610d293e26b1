def brand(request):
    """The brand pages are drawn in: the console's organization's brand when a view set one
    (``request.console_brand``), otherwise the storefront's brand from the host."""
    shown = getattr(request, "console_brand", None) or getattr(request, "brand", None)
    return {"brand": shown, "storefront_brand": getattr(request, "brand", None)}
