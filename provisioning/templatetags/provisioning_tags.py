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


DRIFT_FIELDS = {"status": "status", "space_amount": "quota", "name": "name"}


@register.filter
def drift_side(values) -> str:
    """One side of a drift item (the portal's or Box's) in words: "status inactive, quota
    1.0 GB"; ids are left out; "no user" when that side has none."""
    parts = [
        f"{label} {quota(values[key]) if key == 'space_amount' else values[key] or '—'}"
        for key, label in DRIFT_FIELDS.items()
        if key in (values or {})
    ]
    return ", ".join(parts) or "no user"
