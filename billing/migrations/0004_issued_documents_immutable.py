"""On PostgreSQL an issued invoice or credit note never changes, whatever the caller: triggers
refuse any change to an issued invoice's frozen columns, its deletion, any change to the lines
of an invoice that is no longer a draft, and any change to a credit note or its lines after the
transaction that created them. What may still change on an issued invoice: its state (paid,
void, uncollectible), the rendered PDF (stored once), and when it was e-mailed, paid or voided."""

from django.db import migrations

CREATE = """
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
CREATE TRIGGER billing_invoice_frozen
    BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE OR REPLACE FUNCTION billing_invoiceline_frozen() RETURNS trigger AS $$
DECLARE
    invoice_state text;
BEGIN
    SELECT state INTO invoice_state FROM billing_invoice
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF invoice_state IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'the lines of an issued invoice never change';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.invoice_id <> NEW.invoice_id THEN
        SELECT state INTO invoice_state FROM billing_invoice WHERE id = OLD.invoice_id;
        IF invoice_state IS DISTINCT FROM 'draft' THEN
            RAISE EXCEPTION 'the lines of an issued invoice never change';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_invoiceline_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_frozen();

CREATE OR REPLACE FUNCTION billing_creditnote_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'credit note % cannot be deleted', OLD.number;
    END IF;
    IF (to_jsonb(NEW) - 'pdf' - 'pdf_sha256' - 'pdf_state' - 'pdf_error')
       IS DISTINCT FROM (to_jsonb(OLD) - 'pdf' - 'pdf_sha256' - 'pdf_state' - 'pdf_error')
       OR (OLD.pdf_sha256 <> '' AND (NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
                                     OR NEW.pdf IS DISTINCT FROM OLD.pdf))
    THEN
        RAISE EXCEPTION 'credit note % never changes', OLD.number;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_creditnote_frozen
    BEFORE UPDATE OR DELETE ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION billing_creditnote_frozen();

CREATE OR REPLACE FUNCTION billing_creditnoteline_frozen() RETURNS trigger AS $$
DECLARE
    created xid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- Lines are written by the transaction that created their credit note, never later:
        -- the note's row must still be in progress, which (being visible here) means ours.
        SELECT xmin INTO created FROM billing_creditnote WHERE id = NEW.credit_note_id;
        IF txid_status((txid_current() >> 32 << 32) + created::text::bigint)
           IS DISTINCT FROM 'in progress' THEN
            RAISE EXCEPTION 'credit note lines are written with their credit note only';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'credit note lines never change';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_creditnoteline_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON billing_creditnoteline
    FOR EACH ROW EXECUTE FUNCTION billing_creditnoteline_frozen();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_frozen();
DROP TRIGGER IF EXISTS billing_invoiceline_frozen ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_frozen();
DROP TRIGGER IF EXISTS billing_creditnote_frozen ON billing_creditnote;
DROP FUNCTION IF EXISTS billing_creditnote_frozen();
DROP TRIGGER IF EXISTS billing_creditnoteline_frozen ON billing_creditnoteline;
DROP FUNCTION IF EXISTS billing_creditnoteline_frozen();
"""


def _run(schema_editor, sql: str) -> None:
    # Straight to the cursor: with no parameters the driver leaves the "%" of RAISE alone.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_usage_invoices_credit_notes")]

    operations = [migrations.RunPython(forwards, backwards)]
