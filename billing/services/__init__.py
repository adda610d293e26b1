"""Every write of billing, one module per concern:

- ``usage``: nightly collection of Box usage into daily records;
- ``rating``: the pure function from a subscription's period to invoice lines;
- ``invoices``: drafts, lines, issuing (numbering, freezing), state changes;
- ``credit_notes``: corrections of issued invoices;
- ``run``: the nightly billing run (renewal and billing in one step), wholesale invoicing;
- ``prices``: moving subscriptions to a seller's newer price after notice;
- ``hooks``: what other parts of billing hear when usage is recorded.
"""
