"""Pages of billing, one module per concern: ``invoices`` (invoices, credit notes, "why this
amount", the accounting export, numbering), ``upcoming`` (the next invoice of a
subscription), ``runs`` (billing runs and the issues they flag), ``prices`` (moving running
subscriptions to a newer price), ``pdf`` (downloads of invoice and credit-note PDFs) and
``usage`` (usage charts and the provider's usage collections)."""
