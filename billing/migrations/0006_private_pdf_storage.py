"""Invoice and credit note PDFs move to private storage (settings.PRIVATE_MEDIA_ROOT, never
under MEDIA_ROOT, no URL). Only the field's storage changes: no column does, and the triggers of
0004 are untouched."""

import portal.storage
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_usage_indexes_covered'),
    ]

    operations = [
        migrations.AlterField(
            model_name='creditnote',
            name='pdf',
            field=models.FileField(blank=True, storage=portal.storage.private_storage, upload_to='credit-notes/'),
        ),
        migrations.AlterField(
            model_name='invoice',
            name='pdf',
            field=models.FileField(blank=True, storage=portal.storage.private_storage, upload_to='invoices/'),
        ),
    ]
