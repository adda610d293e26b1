"""A credit note is e-mailed once: a row per credit note records it (the credit note itself never
changes)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0006_private_pdf_storage'),
    ]

    operations = [
        migrations.CreateModel(
            name='CreditNoteEmail',
            fields=[
                ('credit_note', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='email', serialize=False, to='billing.creditnote')),
                ('emailed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recipients', models.JSONField(blank=True, default=list)),
            ],
        ),
    ]
