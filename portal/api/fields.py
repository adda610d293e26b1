"""The base of the API's serializers: every integer and every date a request carries is
bounded, so no value reaches the database (or the calendar arithmetic) that it cannot hold.

- Integers: SQLite stops at 64 bits, PostgreSQL's ``integer`` at 2**31 - 1; either would answer
  500. An id may go up to the largest id; any other number (seats, days, gigabytes, limits) up
  to 2**31 - 1. Both bounds are documented in the schema.
- Dates: from 1900-01-01 to 2999-12-31 (``portal.params.MIN_DATE``/``MAX_DATE``); Python's
  calendar ends in 9999, and a term added to 9999-12-31 would be a 500.

A value past a bound is a 400 naming the field."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from portal.params import MAX_DATE, MAX_ID, MIN_DATE, date_in_range

MAX_NUMBER = 2**31 - 1
ID_FIELDS = frozenset(
    {"customer", "offer", "seller", "parent", "buyer", "agent", "organization", "available_to"}
)


def _bound(field: serializers.IntegerField, largest: int) -> None:
    if field.max_value is None:
        field.max_value = largest
        message = field.error_messages["max_value"].format(max_value=largest)
        field.validators.append(MaxValueValidator(largest, message=message))
    if field.min_value is None:
        field.min_value = -largest
        message = field.error_messages["min_value"].format(min_value=-largest)
        field.validators.append(MinValueValidator(-largest, message=message))


def _date_in_range(value) -> None:
    if not date_in_range(value):
        raise serializers.ValidationError(f"Use a date from {MIN_DATE} to {MAX_DATE}.")


def bound_values(fields) -> None:
    for name, field in fields.items():
        largest = MAX_ID if name in ID_FIELDS else MAX_NUMBER
        if isinstance(field, serializers.ListField):
            field = field.child
        if field.read_only:
            continue
        if isinstance(field, serializers.IntegerField):
            _bound(field, largest)
        elif isinstance(field, serializers.DateField):
            field.validators.append(_date_in_range)


class Serializer(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        bound_values(fields)
        return fields
