def brand(request):
    return {"brand": getattr(request, "brand", None)}
