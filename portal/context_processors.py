def brand(request):
    """The brand pages are drawn in: the console's organization's brand when a view set one
    (``request.console_brand``), otherwise the storefront's brand from the host."""
    from portal.favicon import href

    host = getattr(request, "brand", None)
    shown = getattr(request, "console_brand", None) or host
    return {"brand": shown, "storefront_brand": host, "favicon_href": href(shown, host)}
