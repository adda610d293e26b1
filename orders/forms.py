from django import forms
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from catalog.models import Term
from orders.models import SeatRole

# Choices in the active language (their labels are marked for the catalog in the models).
TERMS = [(value, gettext_lazy(label)) for value, label in Term.choices]
SEAT_ROLES = [(value, gettext_lazy(label)) for value, label in SeatRole.choices]


class QuantityTermForm(forms.Form):
    seats = forms.IntegerField(label=_("Seats"), min_value=1, max_value=100000)
    term = forms.ChoiceField(label=_("Billing"), choices=TERMS)
    code = forms.CharField(label=_("Promotion code"), max_length=40, required=False)


class CheckoutForm(QuantityTermForm):
    """A storefront order; a visitor also registers (company, name, e-mail, password)."""

    token = forms.CharField(widget=forms.HiddenInput)
    company_name = forms.CharField(label="Company name", max_length=200, required=False)
    full_name = forms.CharField(label="Your name", max_length=150, required=False)
    email = forms.EmailField(label="E-mail address", required=False)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, required=False)

    SIGNUP_FIELDS = ("company_name", "full_name", "email", "password")

    def __init__(self, *args, anonymous: bool, require_signup: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.anonymous = anonymous
        for name in self.SIGNUP_FIELDS:
            if not anonymous:
                del self.fields[name]
            else:
                self.fields[name].required = require_signup


class ConsoleOrderForm(QuantityTermForm):
    customer = forms.TypedChoiceField(label="Customer", coerce=int)
    offer = forms.TypedChoiceField(label="Offer", coerce=int)
    note = forms.CharField(
        label="Note (for the record)",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, customers=(), offers=(), payments=(), **kwargs):
        super().__init__(*args, **kwargs)
        if payments:  # how the first invoice is paid (payments.pages.on_behalf)
            self.fields["payment"] = forms.ChoiceField(
                label="First invoice", choices=payments, widget=forms.RadioSelect
            )
            self.initial.setdefault("payment", payments[0][0])
        self.fields["customer"].choices = [("", "Choose a customer")] + [
            (c.pk, f"{c.name} ({c.parent.name})") for c in customers
        ]
        self.fields["offer"].choices = [("", "Choose an offer")] + [
            (o.pk, f"{o.display_name} — {o.seller.name}") for o in offers
        ]


class ChangeForm(forms.Form):
    plan = forms.TypedChoiceField(label=_("Plan"), coerce=int)
    quantity = forms.IntegerField(label=_("Seats"), min_value=1, max_value=100000)
    term = forms.ChoiceField(label=_("Billing"), choices=TERMS)

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [(p.pk, label) for p, label in plans]


class SeatForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    name = forms.CharField(label=_("Name"), max_length=50)
    quota_gb = forms.IntegerField(
        label=_("Storage quota (GB)"),
        min_value=1,
        required=False,
        help_text=_("Empty: the plan's default."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=SEAT_ROLES, initial=SeatRole.USER)


class SeatUpdateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=50)
    quota_gb = forms.IntegerField(label="Quota (GB)", min_value=1, required=False)
    role = forms.ChoiceField(label="Role", choices=SEAT_ROLES)


class SeatImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("Columns: email,name,quota_gb,role."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 1_000_000:
            raise forms.ValidationError(_("The file is too large; import at most 1 MB at a time."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("Save the file as UTF-8 text (CSV).")) from None


class SuspendForm(forms.Form):
    reason = forms.CharField(label="Reason (the customer sees it)", max_length=200)


class PolicyForm(forms.Form):
    approve_new_customers = forms.BooleanField(
        label="New customers who sign up on my storefront wait for my approval", required=False
    )
    approve_orders = forms.BooleanField(
        label="Orders placed by customers wait for my approval", required=False
    )
