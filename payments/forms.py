"""Forms of the seller consoles' payment pages. They only shape the input; the services
validate it (and their messages land on these forms' fields through ``apply_error``)."""

from __future__ import annotations

from django import forms

from payments.models import PaymentSource
from portal import clock
from portal.money import MoneyError, quantize, to_decimal


class StripeKeysForm(forms.Form):
    """The seller's keys. The secret ones are never put back into the page."""

    publishable_key = forms.CharField(
        label="Publishable key",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "pk_live_…"}),
    )
    secret_key = forms.CharField(
        label="Secret key",
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "sk_live_…"}),
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "whsec_…"}),
    )


class PolicyForm(forms.Form):
    """Plain text fields: the service reads and checks each value (one rule for pages and
    API)."""

    retry_days = forms.CharField(
        label="Retry a failed automatic payment after (days)",
        max_length=40,
        required=False,
        help_text="Days after the first failure, separated by commas, e.g. 1,3,7.",
    )
    suspend_after_days = forms.CharField(
        label="Suspend the service after (days)",
        max_length=10,
        required=False,
        help_text="Days after the first failure; the Box users are set inactive.",
    )
    cancel_after_days = forms.CharField(
        label="Cancel after suspension (days)",
        max_length=10,
        required=False,
        help_text="Days after the suspension; the subscriptions end.",
    )
    unpaid_order_hours = forms.CharField(
        label="Cancel an unpaid order after (hours)",
        max_length=10,
        required=False,
        help_text="Nothing was created at Box for it.",
    )
    max_seats_per_order = forms.CharField(
        label="Self-service limit: seats per order",
        max_length=10,
        required=False,
        help_text="A customer's order above it waits for your approval. Empty: no limit.",
    )
    max_amount_per_order = forms.CharField(
        label="Self-service limit: amount per order",
        max_length=20,
        required=False,
        help_text="The first invoice's total. Empty: no limit.",
    )


class OfflinePaymentForm(forms.Form):
    """A bank transfer or cheque received for an invoice."""

    source = forms.ChoiceField(
        label="Received by",
        choices=[
            (PaymentSource.TRANSFER, PaymentSource.TRANSFER.label),
            (PaymentSource.CHEQUE, PaymentSource.CHEQUE.label),
        ],
    )
    amount = forms.CharField(label="Amount received", max_length=20)
    received_on = forms.DateField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = forms.CharField(
        label="Bank reference or cheque number",
        max_length=100,
        required=False,
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount received ({currency})"

    def clean_amount(self):
        try:
            value = to_decimal(self.cleaned_data["amount"].replace(",", ""))
        except MoneyError:
            raise forms.ValidationError("Give the amount received, e.g. 82.50.") from None
        if not value.is_finite() or value <= 0:
            raise forms.ValidationError("The amount is more than 0.")
        if quantize(value, self.currency) != value:
            raise forms.ValidationError(f"At most the decimals {self.currency} has.")
        if value > 100_000_000:
            raise forms.ValidationError("That amount is not plausible.")
        return value

    def clean_received_on(self):
        day = self.cleaned_data["received_on"]
        if day > clock.today():
            raise forms.ValidationError("The money cannot arrive in the future.")
        return day


class RefundForm(forms.Form):
    method = forms.ChoiceField(
        label="Give the money back",
        choices=[
            ("card", "Refund it to the card the invoice was paid with"),
            ("balance", "Add it to the customer's credit balance"),
        ],
        widget=forms.RadioSelect,
    )
