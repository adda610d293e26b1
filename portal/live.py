"""Live status: a page whose work is in progress (an order being set up at Box, seats being
created, a payment being confirmed) polls a fragment of itself, ``?fragment=status``, and
stops when the work is done.

The page renders its status block through ``templates/portal/_live.html``'s attributes: while
``live`` is true the block asks htmx to fetch ``?fragment=status`` every ``POLL_SECONDS`` and
swap itself with the answer; the answer is the same block rendered afresh, so the first answer
without ``live`` carries no polling attributes and the polling ends by itself. Nothing here
writes: a fragment is a GET like the page it belongs to, through the same access checks."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

FRAGMENT = "status"
POLL_SECONDS = 2


def wants_status(request) -> bool:
    """Whether the request asks for the status fragment instead of the whole page."""
    return request.method == "GET" and request.GET.get("fragment") == FRAGMENT


def render_status(request, template: str, context: dict):
    """Only the status block: no navigation or memberships are gathered for it, and the
    answer is never cached (each poll must see the current state)."""
    response = render(
        request,
        template,
        {
            "console_org": request.console_org,
            "console_kind": request.console_kind,
            **context,
            "fragment": True,
        },
    )
    add_never_cache_headers(response)
    return response
