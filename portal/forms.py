from allauth.account.forms import SignupForm
from django import forms
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal import services
from portal.errors import ApplicationError
from portal.models import LANGUAGES, Role


class CustomerSignupForm(SignupForm):
    """Sign-up on a storefront: the person and their company, which becomes a customer of the
    storefront's seller."""

    company_name = forms.CharField(label="Company name", max_length=200)
    full_name = forms.CharField(label="Your name", max_length=150)

    field_order = ["company_name", "full_name", "email", "password1"]

    def save(self, request):
        with transaction.atomic():
            user = super().save(request)
            try:
                services.customer_signup(
                    user=user,
                    seller=request.storefront,
                    company_name=self.cleaned_data["company_name"],
                    full_name=self.cleaned_data["full_name"],
                )
            except ApplicationError as exc:  # pragma: no cover - the seller was checked above
                raise forms.ValidationError(exc.message) from exc
        return user


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    contact_name = forms.CharField(label=_("Contact name"), max_length=150, required=False)
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    region = forms.CharField(label=_("Region / state"), max_length=100, required=False)
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        required=False,
        help_text=_("Two-letter ISO code, such as US or DE."),
    )
    tax_id = forms.CharField(label=_("Tax ID"), max_length=40, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The seller's language")), *LANGUAGES],
        required=False,
        help_text=_("Pages, e-mails and invoices are written in it."),
    )

    def clean_country(self):
        return self.cleaned_data["country"].strip().upper()


class CustomerCreateForm(OrganizationForm):
    """A new customer: its details, and whether it is a sandbox (decided now, for good)."""

    sandbox = forms.BooleanField(
        label="Sandbox customer",
        required=False,
        help_text="Lives on its own day, which you move forward to watch renewals, invoices, "
        "payments and dunning; never part of real billing or revenue. Cannot be changed later.",
    )


class ResellerForm(OrganizationForm):
    brand_name = forms.CharField(
        max_length=120, required=False, help_text="Shown on its storefront; the name if empty."
    )
    domain = forms.CharField(
        label="Storefront domain",
        max_length=253,
        required=False,
        help_text="For example shop.example.com. More can be added later.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, gettext(Role(r).label)) for r in roles]


class BrandForm(forms.Form):
    name = forms.CharField(max_length=120)
    tagline = forms.CharField(max_length=200, required=False)
    logo = forms.ImageField(required=False, help_text="PNG, JPEG or SVG-free image, up to 2 MB.")
    clear_logo = forms.BooleanField(required=False, label="Remove the current logo")
    primary_color = forms.CharField(
        max_length=7, widget=forms.TextInput(attrs={"type": "color"}), label="Primary colour"
    )
    accent_color = forms.CharField(
        max_length=7, widget=forms.TextInput(attrs={"type": "color"}), label="Accent colour"
    )
    support_email = forms.EmailField(required=False)
    support_phone = forms.CharField(max_length=40, required=False)
    legal_name = forms.CharField(max_length=200, required=False)
    legal_address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    invoice_footer = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    invoice_payment_terms_days = forms.IntegerField(
        min_value=0, max_value=365, label="Payment terms (days)"
    )

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo and logo.size > 2 * 1024 * 1024:
            raise forms.ValidationError("The logo must be 2 MB or smaller.")
        return logo


class DomainForm(forms.Form):
    domain = forms.CharField(max_length=253, help_text="A host name such as shop.example.com.")
    is_primary = forms.BooleanField(required=False, label="Use in e-mails and links")


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, label="Choose a password")


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'billing sync'.")
