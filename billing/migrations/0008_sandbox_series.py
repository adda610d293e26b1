"""Sandbox customers' invoices and credit notes are numbered in their own series per seller
(``SANDBOX-INV-``, ``SANDBOX-CN-``), so a seller's real series spends no number on them; the
flag is one of an issued invoice's frozen columns."""

import importlib

from django.conf import settings
from django.db import migrations, models

# The invoice trigger of 0004, with the flag among the frozen columns (the function is taken
# from that migration's text, so both stay one definition).
_FROZEN = importlib.import_module("billing.migrations.0004_issued_documents_immutable").CREATE
_START = _FROZEN.index("CREATE OR REPLACE FUNCTION billing_invoice_frozen()")
WITHOUT_SANDBOX = _FROZEN[_START : _FROZEN.index("$$ LANGUAGE plpgsql;", _START) + 20]
WITH_SANDBOX = WITHOUT_SANDBOX.replace(
    "NEW.language, NEW.note)", "NEW.language, NEW.note, NEW.sandbox)"
).replace("OLD.language, OLD.note)", "OLD.language, OLD.note, OLD.sandbox)")
assert WITH_SANDBOX.count("sandbox") == 2



def _run(schema_editor, sql: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, WITH_SANDBOX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, WITHOUT_SANDBOX)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_credit_note_email"),
        ("orders", "0004_order_awaiting_payment"),
        ("portal", "0008_organization_sandbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="creditnote",
            name="credit_note_sequence_unique_per_seller",
        ),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_sequence_unique_per_seller",
        ),
        migrations.AddField(
            model_name="creditnote",
            name="sandbox",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name="invoice",
            name="sandbox",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="numberseries",
            name="kind",
            field=models.CharField(
                choices=[
                    ("invoice", "Invoice"),
                    ("credit_note", "Credit note"),
                    ("sandbox_inv", "Sandbox invoice"),
                    ("sandbox_cn", "Sandbox credit note"),
                ],
                max_length=12,
            ),
        ),
        migrations.AddConstraint(
            model_name="creditnote",
            constraint=models.UniqueConstraint(
                fields=("seller", "sandbox", "sequence"),
                name="credit_note_sequence_unique_per_series",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                condition=models.Q(("sequence__isnull", False)),
                fields=("seller", "sandbox", "sequence"),
                name="invoice_sequence_unique_per_series",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
