"""Sandbox customers' invoices and credit notes are numbered in their own series per seller
(``SANDBOX-INV-``, ``SANDBOX-CN-``), so a seller's real series spends no number on them; the
flag is one of an issued invoice's frozen columns."""


from django.conf import settings
from django.db import migrations, models

WITH_SANDBOX = """
CREATE OR REPLACE FUNCTION billing_invoice_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is issued and cannot be deleted', OLD.number;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'draft' THEN
        IF NEW.state = 'draft'
           OR (NEW.seller_id, NEW.buyer_id, NEW.currency, NEW.source, NEW.billing_day,
               NEW.number, NEW.sequence, NEW.issued_at, NEW.due_on, NEW.period_start,
               NEW.period_end, NEW.subtotal, NEW.tax_total, NEW.total,
               NEW.reverse_charge, NEW.language, NEW.note, NEW.sandbox)
              IS DISTINCT FROM
              (OLD.seller_id, OLD.buyer_id, OLD.currency, OLD.source, OLD.billing_day,
               OLD.number, OLD.sequence, OLD.issued_at, OLD.due_on, OLD.period_start,
               OLD.period_end, OLD.subtotal, OLD.tax_total, OLD.total,
               OLD.reverse_charge, OLD.language, OLD.note, OLD.sandbox)
           OR NEW.order_id IS DISTINCT FROM OLD.order_id
           OR NEW.seller_details::text IS DISTINCT FROM OLD.seller_details::text
           OR NEW.buyer_details::text IS DISTINCT FROM OLD.buyer_details::text
           OR (OLD.pdf_sha256 <> '' AND (NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
                                         OR NEW.pdf IS DISTINCT FROM OLD.pdf))
        THEN
            RAISE EXCEPTION 'invoice % is issued; corrections are credit notes', OLD.number;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

WITHOUT_SANDBOX = """
CREATE OR REPLACE FUNCTION billing_invoice_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is issued and cannot be deleted', OLD.number;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'draft' THEN
        IF NEW.state = 'draft'
           OR (NEW.seller_id, NEW.buyer_id, NEW.currency, NEW.source, NEW.billing_day,
               NEW.number, NEW.sequence, NEW.issued_at, NEW.due_on, NEW.period_start,
               NEW.period_end, NEW.subtotal, NEW.tax_total, NEW.total,
               NEW.reverse_charge, NEW.language, NEW.note)
              IS DISTINCT FROM
              (OLD.seller_id, OLD.buyer_id, OLD.currency, OLD.source, OLD.billing_day,
               OLD.number, OLD.sequence, OLD.issued_at, OLD.due_on, OLD.period_start,
               OLD.period_end, OLD.subtotal, OLD.tax_total, OLD.total,
               OLD.reverse_charge, OLD.language, OLD.note)
           OR NEW.order_id IS DISTINCT FROM OLD.order_id
           OR NEW.seller_details::text IS DISTINCT FROM OLD.seller_details::text
           OR NEW.buyer_details::text IS DISTINCT FROM OLD.buyer_details::text
           OR (OLD.pdf_sha256 <> '' AND (NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
                                         OR NEW.pdf IS DISTINCT FROM OLD.pdf))
        THEN
            RAISE EXCEPTION 'invoice % is issued; corrections are credit notes', OLD.number;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


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
