"""Writing many rows at once: the write paths of usage collection and reconciliation, which
store thousands of rows a night (and hundreds of thousands in a backfill), and of the billing
run, which renews and issues thousands of rows in one batch (``bulk_update`` of model
objects: ``UPDATE ... FROM (VALUES ...)``, instead of Django's ``CASE WHEN`` per field and row,
whose cost in Python grows far faster).

On PostgreSQL the rows go in as one array literal per column (``INSERT … SELECT FROM
unnest(…) ON CONFLICT … DO UPDATE``): no model instances, no adapting of each value one by
one. Elsewhere (SQLite) ``bulk_create(update_conflicts=True)`` does the same. Both write exactly
the same rows; the caller's transaction covers them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import connection, models

BATCH_SIZE = 2000
# PostgreSQL: rows per statement (each column is one array parameter, so this bounds memory,
# not the number of parameters).
PG_BATCH_SIZE = 20_000


def upsert(
    model: type[models.Model],
    *,
    columns: Sequence[str],
    rows: Sequence[tuple],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, attribute names such as
    ``box_user_id``) into ``model``'s table; a row whose ``conflict`` fields match an existing
    row's (a unique constraint) updates that row's ``update`` fields instead."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _pg_upsert(model, columns, rows, conflict, update)
        return
    fields = {f.attname: f.name for f in model._meta.concrete_fields}
    model._default_manager.bulk_create(
        [model(**dict(zip(columns, row, strict=True))) for row in rows],
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=[fields.get(c, c) for c in conflict],
        update_fields=[fields.get(c, c) for c in update],
    )


def update_rows(
    model: type[models.Model], *, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Set ``columns`` of existing rows: each row is ``(pk, value, …)`` in the order of
    ``columns``. One statement per 20,000 rows on PostgreSQL (``UPDATE … FROM unnest(…)``);
    ``bulk_update`` elsewhere. Like ``bulk_update``, ``auto_now`` fields are left alone."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(
            [model(pk=row[0], **dict(zip(columns, row[1:], strict=True))) for row in rows],
            list(columns),
            batch_size=500,
        )
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.pk] + [meta.get_field(c) for c in columns]
    rows = _json_dumped(fields, rows)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    names = ", ".join(quote(f.column) for f in fields)
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    pk = quote(meta.pk.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {sets} "  # noqa: S608 - names from the model
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{pk} = v.{pk}"
    )
    _pg_execute(sql, fields, rows)


def insert(
    model: type[models.Model],
    *,
    columns: Sequence[str],
    rows: Sequence[tuple],
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert ``rows`` (tuples in the order of ``columns``, attribute names such as
    ``invoice_id``; the primary key is left to the database). JSON columns take dicts and
    lists. One statement per 20,000 rows on PostgreSQL; ``bulk_create`` elsewhere.

    ``ignore_conflicts`` skips a row that a unique constraint refuses. ``returning`` (column
    attribute names) gives back those values of the rows inserted, on PostgreSQL only:
    elsewhere the result is empty and the caller reads the rows again."""
    if not rows:
        return []
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[c] for c in columns]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows],
            batch_size=BATCH_SIZE,
            ignore_conflicts=ignore_conflicts,
        )
        return []
    rows = _json_dumped(fields, rows)
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608 - names from the model
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(by_attname[c].column) for c in returning)
    return _pg_execute(sql, fields, rows, fetch=bool(returning))


def _json_dumped(fields, rows: Sequence[tuple]) -> Sequence[tuple]:
    """``rows`` with the values of JSON columns (dicts, lists) as JSON text."""
    json_columns = [isinstance(f, models.JSONField) for f in fields]
    if not any(json_columns):
        return rows
    return [
        tuple(
            json.dumps(v, default=str) if is_json and v is not None else v
            for v, is_json in zip(row, json_columns, strict=True)
        )
        for row in rows
    ]


def _pg_upsert(model, columns, rows, conflict, update) -> None:
    meta = model._meta
    quote = connection.ops.quote_name
    by_attname = {f.attname: f for f in meta.concrete_fields}
    by_name = {f.name: f for f in meta.concrete_fields}

    def field(name):
        return by_attname.get(name) or by_name[name]

    cols = [field(c) for c in columns]
    names = ", ".join(quote(f.column) for f in cols)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in cols)
    target = ", ".join(quote(field(c).column) for c in conflict)
    sets = ", ".join(
        f"{quote(field(c).column)} = EXCLUDED.{quote(field(c).column)}" for c in update
    )
    # Table and column names come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608
        f"ON CONFLICT ({target}) DO UPDATE SET {sets}"
    )
    _pg_execute(sql, cols, rows)


def _pg_execute(sql: str, fields, rows, *, fetch: bool = False) -> list[tuple]:
    """Run ``sql`` once per chunk of ``rows``, each column of the chunk as one array literal;
    the rows it returns when ``fetch``."""
    numeric = [
        isinstance(f, models.IntegerField | models.AutoField | models.ForeignKey) for f in fields
    ]
    returned: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), PG_BATCH_SIZE):
            chunk = rows[start : start + PG_BATCH_SIZE]
            cursor.execute(
                sql,
                [
                    array_literal(values, numeric=is_number)
                    for values, is_number in zip(zip(*chunk, strict=True), numeric, strict=True)
                ],
            )
            if fetch:
                returned.extend(cursor.fetchall())
    return returned


def array_literal(values, *, numeric: bool) -> str:
    """A PostgreSQL array literal of ``values`` (``{1,2,NULL}``, ``{"a","b c"}``), cast to the
    column's type in the statement. Building one string per column is much cheaper than
    adapting each value of a long list."""
    if numeric:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
    seen: dict = {}  # a column of text, dates or times repeats few values

    def quoted(value) -> str:
        if value is None:
            return "NULL"
        text = seen.get(value)
        if text is None:
            text = seen[value] = _quoted(value)
        return text

    return "{" + ",".join(map(quoted, values)) + "}"


def _quoted(value) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bulk_update(objs: Sequence, fields: Sequence[str], *, chunk: int = PG_BATCH_SIZE) -> int:
    """Write ``fields`` of every object in ``objs`` (all of one model, saved before). Values go
    through each field's ``pre_save`` (``auto_now`` sets the time) as with ``save``. On
    PostgreSQL one ``UPDATE … FROM unnest(…)`` per ``chunk`` objects, each column one array
    parameter."""
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(objs, fields, batch_size=min(chunk, 1000))
    meta = model._meta
    pk = meta.pk
    concrete = [meta.get_field(name) for name in fields]
    columns = [pk, *concrete]
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
    names = ", ".join(quote(f.column) for f in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in concrete)
    key = quote(pk.column)
    # Names come from the model's metadata, quoted; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{key} = v.{key}"
    )
    numeric = [
        isinstance(f, models.IntegerField | models.AutoField | models.ForeignKey) for f in columns
    ]
    # Most fields' pre_save only reads the attribute: read it directly for those.
    plain = [type(f).pre_save is models.Field.pre_save for f in concrete]
    rows = [
        (
            obj.pk,
            *(
                _plain(f, getattr(obj, f.attname) if is_plain else f.pre_save(obj, add=False))
                for f, is_plain in zip(concrete, plain, strict=True)
            ),
        )
        for obj in objs
    ]
    done = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                sql,
                [
                    array_literal(values, numeric=is_number)
                    for values, is_number in zip(zip(*part, strict=True), numeric, strict=True)
                ],
            )
            done += cursor.rowcount
    return done


def _plain(field, value):
    """A model value as the text of an array element: JSON as JSON text (with the field's
    encoder), anything else as the field prepares it for a query."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder)
    if type(value) in _AS_TEXT:
        return value  # what get_prep_value would give, written the same
    return field.get_prep_value(value)


# Values whose text in an array literal is what the field would prepare (a datetime is not
# here: a naive one is made aware by its field).
_AS_TEXT = frozenset({str, int, bool, Decimal, date})
