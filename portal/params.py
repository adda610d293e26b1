"""Values from a request, checked before they reach the database.

- ``parse_id`` reads an object id from a path or a form: a positive whole number written in
  ASCII digits, or ``None``. Callers look the object up with it inside what the actor may see,
  so ``None`` (garbage, a negative number, ``²``, a number past the largest id) is simply the
  same 404 as a missing object.
- ``Param`` declares one query parameter of an endpoint (its type, allowed values, longest
  length). The API's base viewset (``portal.api.base``) parses the declared parameters of the
  current action before the handler runs and documents them in the OpenAPI schema from the
  same declaration. A bad value is a 400 naming the parameter, never a database error:
  PostgreSQL refuses a NUL byte in a text value, SQLite an integer past 64 bits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from portal.errors import ValidationError

# The largest primary key a table can have (BigAutoField); no id above it exists.
MAX_ID = 2**63 - 1
# The days a request may name: a term added to 9999-12-31 would leave Python's calendar.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
_DIGITS = re.compile(r"[0-9]{1,19}")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_id(value) -> int | None:
    """``value`` as an object id, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def date_in_range(value: date) -> bool:
    return MIN_DATE <= value <= MAX_DATE


def has_control_characters(value: str) -> bool:
    """NUL, other C0/C1 control characters, and lone surrogates, none of which belongs in a
    name, a code or a search."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


def clean_text(value, *, max_length: int = 200) -> str:
    """A page's free-text filter: the text without surrounding spaces, or "" when it cannot be
    a search (control characters, too long). Pages ignore such a filter; the API refuses it."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > max_length or has_control_characters(value):
        return ""
    return value


# --- declared query parameters --------------------------------------------------------------

ID = "id"
INTEGER = "integer"
TEXT = "text"
CHOICE = "choice"
DATE = "date"
BOOLEAN = "boolean"


@dataclass(frozen=True)
class Param:
    """One query parameter an endpoint accepts.

    ``lookup`` is the ORM lookup the value filters on (``customer_id``, ``action__startswith``);
    without one the view reads the parsed value itself. An empty value means "not given".
    """

    name: str
    type: str = TEXT
    lookup: str | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 100
    min_value: int | None = None
    max_value: int | None = None
    description: str = ""
    default: object = None

    def _refuse(self, message: str) -> ValidationError:
        return ValidationError(
            f"{self.name}: {message}", fields={self.name: [message]}, code="invalid_parameter"
        )

    def parse(self, raw: str | None):
        """The parameter's value from its raw text; ``default`` when absent or empty."""
        if raw is None:
            return self.default
        if has_control_characters(raw):
            raise self._refuse("Control characters (such as a NUL byte) are not allowed.")
        value = raw.strip()
        if value == "":
            return self.default
        limit = self.max_length if self.type == TEXT else 40
        if len(value) > limit:
            raise self._refuse(f"Use at most {limit} characters.")
        if self.type == ID:
            number = parse_id(value)
            if number is None:
                raise self._refuse("Use an id: a whole number from 1.")
            return number
        if self.type == INTEGER:
            return self._integer(value)
        if self.type == CHOICE:
            if value not in self.choices:
                raise self._refuse(f"Use one of: {', '.join(self.choices)}.")
            return value
        if self.type == DATE:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise self._refuse("Use a date such as 2027-01-31.") from None
            if not date_in_range(day):
                raise self._refuse(f"Use a date from {MIN_DATE} to {MAX_DATE}.")
            return day
        if self.type == BOOLEAN:
            if value.lower() in TRUE_WORDS:
                return True
            if value.lower() in FALSE_WORDS:
                return False
            raise self._refuse("Use true or false.")
        return value

    def _integer(self, value: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,18}", value):
            raise self._refuse("Use a whole number.")
        number = int(value)
        if self.min_value is not None and number < self.min_value:
            raise self._refuse(f"Use a number from {self.min_value}.")
        if self.max_value is not None and number > self.max_value:
            raise self._refuse(f"Use a number up to {self.max_value}.")
        return number

    def openapi_schema(self) -> dict:
        """The JSON schema of the parameter, as the API documents it."""
        if self.type == ID:
            return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        if self.type == INTEGER:
            schema: dict = {"type": "integer"}
            if self.min_value is not None:
                schema["minimum"] = self.min_value
            if self.max_value is not None:
                schema["maximum"] = self.max_value
            return schema
        if self.type == CHOICE:
            return {"type": "string", "enum": list(self.choices)}
        if self.type == DATE:
            return {"type": "string", "format": "date", "description": f"{MIN_DATE} to {MAX_DATE}"}
        if self.type == BOOLEAN:
            return {"type": "boolean"}
        return {
            "type": "string",
            "maxLength": self.max_length,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$",
        }


def parse_query(params: tuple[Param, ...], query) -> dict:
    """The declared parameters' values from a query (a ``QueryDict``): every declared name
    present, absent ones with their default. Undeclared parameters are not looked at."""
    values = {}
    for param in params:
        raw = query.get(param.name) if hasattr(query, "get") else None
        values[param.name] = param.parse(raw)
    return values


def apply_lookups(qs, params: tuple[Param, ...], values: dict):
    """``qs`` filtered on every declared parameter that has a lookup and a value."""
    for param in params:
        value = values.get(param.name)
        if param.lookup and value is not None:
            qs = qs.filter(**{param.lookup: value})
    return qs


# Shorthands for the declarations.


def id_param(name: str, lookup: str | None = None, description: str = "") -> Param:
    return Param(name, ID, lookup=lookup, description=description)


def text_param(
    name: str, lookup: str | None = None, description: str = "", max_length: int = 100
) -> Param:
    return Param(name, TEXT, lookup=lookup, description=description, max_length=max_length)


def choice_param(name: str, choices, lookup: str | None = None, description: str = "") -> Param:
    return Param(name, CHOICE, lookup=lookup, choices=tuple(choices), description=description)


def date_param(name: str, lookup: str | None = None, description: str = "") -> Param:
    return Param(name, DATE, lookup=lookup, description=description)


def bool_param(name: str, description: str = "", default: bool = False) -> Param:
    return Param(name, BOOLEAN, description=description, default=default)
