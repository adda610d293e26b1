import json

from django import template
from django.template.defaultfilters import filesizeformat

register = template.Library()


@register.filter
def quota(value):
    """A user's quota in bytes for a person: -1 (or Box's huge number) is unlimited."""
    if value is None:
        return "—"
    if value < 0 or value >= 999_999_999_999_999:
        return "Unlimited"
    return filesizeformat(value)


@register.filter
def pretty_json(value):
    if not value:
        return ""
    return json.dumps(value, indent=2, sort_keys=True, default=str)
