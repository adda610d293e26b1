"""Template side of ``portal.plain``: the words a customer reads instead of internal names."""

from __future__ import annotations

from django import template

from portal import clock, plain

register = template.Library()


@register.filter
def step_words(operation: str) -> str:
    """``job.operation|step_words``: "Open your Box account" for ``account.signup``."""
    return plain.step_words(operation)


@register.filter
def step_state_words(state: str) -> str:
    return plain.step_state_words(state)


@register.filter
def term_words(term: str) -> str:
    """``sub.term|term_words``: "monthly" in the active language."""
    return plain.term_words(term)


@register.filter
def choice_words(label: str, context: str = "") -> str:
    """``order.get_kind_display|choice_words``: a model choice's label in the active
    language (English in the consoles); ``|choice_words:"subscription"`` for a wording of
    its own."""
    return plain.choice_words(label, context)


@register.filter
def action_words(action: str) -> str:
    """``event.action|action_words``: a sentence, never the audit code."""
    return plain.action_words(action)


@register.filter
def object_words(event) -> str:
    return plain.object_words(event)


@register.simple_tag
def order_status(order) -> dict:
    """``{% order_status order as status %}`` then ``status.words`` and ``status.css``."""
    words, css = plain.order_status(order, clock.today())
    return {"words": words, "css": css}
