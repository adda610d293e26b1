"""Pages of the tenancy core: storefront home, dashboard routing, the seller consoles (provider
and resellers), the customer portal, the profile and invitations.

Views are thin: they read through ``access``/``selectors``, write through ``services`` and show
a service's ``ApplicationError`` as a form or page message.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_http_methods

from portal import (
    access,
    clock,
    i18n,
    live,
    navigation,
    overview,
    plain,
    sandbox_clock,
    selectors,
    services,
)
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.forms import (
    ApiTokenForm,
    BrandForm,
    CustomerCreateForm,
    DomainForm,
    InvitationAcceptForm,
    InviteForm,
    OrganizationForm,
    ResellerForm,
)
from portal.models import (
    ApiToken,
    Brand,
    Invitation,
    Membership,
    Organization,
    OrgKind,
    OrgStatus,
)
from portal.params import clean_text, parse_id
from portal.storefront_cache import storefront_page

# --- helpers ----------------------------------------------------------------------------------


def apply_error(request, exc: ApplicationError, form=None) -> None:
    """Show a service's error where the person will see it: on the form's fields, or as a
    page message."""
    if form is not None:
        placed = False
        for field, errors in exc.fields.items():
            if field in form.fields:
                for error in errors:
                    form.add_error(field, error)
                placed = True
        if not placed:
            form.add_error(None, exc.message)
    else:
        messages.error(request, exc.message)


def _console(kind: str):
    """Open a console for an organization the user belongs to: ``seller`` (provider or
    reseller) or ``customer``. Anything else is a 404."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(request, org_id, *args, **kwargs):
            try:
                org, membership = access.access_console(request.user, org_id)
            except NotFound:
                raise Http404("No such organization.") from None
            if (kind == "seller") != org.is_seller:
                raise Http404("No such organization.")
            home = selectors.brand_for_organization(org)
            if (
                home is not None
                and request.brand is not None
                and request.brand.pk != home.pk
                and selectors.host_is_claimed(request.get_host())
            ):
                # Signed in on another seller's storefront: the console lives on its own
                # seller's host (where the person signs in again; sessions belong to a host).
                target = selectors.home_url(home, request)
                if target is not None:
                    return HttpResponseRedirect(target)
            request.console_org = org
            request.console_membership = membership
            request.console_brand = selectors.brand_for_organization(org)
            request.console_kind = kind
            # The customer portal speaks its customer's language; seller consoles English.
            language = i18n.language_of(org) if kind == "customer" else settings.LANGUAGE_CODE
            # A sandbox customer's pages run on its own day (docs/sandbox-clock.md).
            day = org.sandbox_today if org.sandbox else None
            with translation.override(language), clock.on_day(day):
                request.LANGUAGE_CODE = language
                try:
                    return view(request, org, *args, **kwargs)
                except NotFound as exc:
                    raise Http404(exc.message) from None
                except PermissionDenied as exc:
                    # Visible but not allowed: say why, in the console's own layout.
                    return render_console(
                        request, "console/denied.html", {"message": exc.message}, status=403
                    )

        return wrapper

    return decorator


seller_console = _console("seller")
customer_console = _console("customer")


def render_console(request, template: str, context: dict, status: int = 200):
    org = request.console_org
    context = {
        "console_org": org,
        "console_membership": request.console_membership,
        "console_kind": request.console_kind,
        "nav": navigation.items_for(request.console_kind, request, org, request.console_membership),
        "memberships": _my_memberships(request.user),
        **context,
    }
    return render(request, template, context, status=status)


def _my_memberships(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .exclude(organization__status="closed")
        .select_related("organization")
        .order_by("organization__depth", "organization__name")
    )


def console_url(membership: Membership) -> str:
    org = membership.organization
    name = "console_dashboard" if org.is_seller else "customer_dashboard"
    return reverse(name, kwargs={"org_id": org.pk})


# --- public -----------------------------------------------------------------------------------


@storefront_page
def storefront_home(request):
    return render(request, "storefront/home.html", {})


@login_required
def dashboard(request):
    memberships = _my_memberships(request.user)
    if len(memberships) == 1:
        return redirect(console_url(memberships[0]))
    entries = [{"membership": m, "url": console_url(m)} for m in memberships]
    return render(request, "portal/choose_console.html", {"entries": entries})


# --- seller console ---------------------------------------------------------------------------


def _org_list(request, org, kind: str):
    qs = (
        access.visible_organizations(request.user)
        .filter(path__startswith=org.path, kind=kind)
        .exclude(pk=org.pk)
        .select_related("parent")
        .annotate(member_count=Count("memberships", filter=Q(memberships__is_active=True)))
        .order_by("name", "pk")
    )
    query = clean_text(request.GET.get("q", ""))
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(contact_email__icontains=query))
    qs = _org_status_filter(qs, request.GET.get("status", ""))
    seller = clean_text(request.GET.get("seller", ""))
    if seller == "direct":
        qs = qs.filter(parent=org)
    elif parse_id(seller) is not None:
        qs = qs.filter(parent_id=parse_id(seller))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return page, query, seller


def _org_status_filter(qs, status: str):
    """``?status=suspended`` (with a suspended subscription, or suspended) and the other
    statuses as they are; the dashboard's to-do counts use the same conditions."""
    if status == OrgStatus.SUSPENDED:
        return qs.filter(selectors.suspended_customers_q())
    if status in OrgStatus.values:
        return qs.filter(status=status)
    return qs


@seller_console
def console_customers(request, org):
    page, query, seller = _org_list(request, org, OrgKind.CUSTOMER)
    sellers = (
        access.visible_organizations(request.user)
        .filter(path__startswith=org.path, kind=OrgKind.RESELLER)
        .order_by("name")
    )
    return render_console(
        request,
        "console/customers.html",
        {
            "page": page,
            "query": query,
            "seller": seller,
            "sellers": sellers,
            "statuses": [
                ("active", "Active"),
                ("pending", "Awaiting approval"),
                ("suspended", "Suspended (or with a suspended subscription)"),
                ("closed", "Closed"),
            ],
            "can_create": access.can(request.user, "customer.create", org),
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_customer_create(request, org):
    if not access.can(request.user, "customer.create", org):
        messages.error(request, access.DENIED_MESSAGES["customer.create"])
        return redirect("console_customers", org_id=org.pk)
    form = CustomerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.organization_create(
                actor=request.user, parent=org, kind=OrgKind.CUSTOMER, **form.cleaned_data
            )
        except ApplicationError as exc:
            apply_error(request, exc, form)
        else:
            what = "sandbox customer" if customer.sandbox else "customer"
            messages.success(
                request, f"The {what} {customer.name} was created. Invite its first admin now."
            )
            return redirect("console_org", org_id=org.pk, target_id=customer.pk)
    return render_console(
        request,
        "console/org_form.html",
        {"form": form, "title": "New customer", "submit": "Create customer"},
    )


@seller_console
def console_resellers(request, org):
    page, query, _ = _org_list(request, org, OrgKind.RESELLER)
    return render_console(
        request,
        "console/resellers.html",
        {
            "page": page,
            "query": query,
            "can_create": access.can(request.user, "reseller.create", org),
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_reseller_create(request, org):
    if not access.can(request.user, "reseller.create", org):
        messages.error(request, access.DENIED_MESSAGES["reseller.create"])
        return redirect("console_resellers", org_id=org.pk)
    parents = (
        access.visible_organizations(request.user)
        .filter(path__startswith=org.path, kind__in=[OrgKind.PROVIDER, OrgKind.RESELLER])
        .order_by("depth", "name")
    )
    form = ResellerForm(request.POST or None)
    parent_id = request.POST.get("parent") or str(org.pk)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        domain = data.pop("domain")
        brand_name = data.pop("brand_name") or None
        try:
            parent = access.access_organization(request.user, parent_id)
            reseller = _reseller_create(request.user, parent, brand_name, domain, data)
        except ApplicationError as exc:
            apply_error(request, exc, form)
        else:
            messages.success(request, f"{reseller.name} was created. Invite its first admin now.")
            return redirect("console_org", org_id=org.pk, target_id=reseller.pk)
    return render_console(
        request,
        "console/org_form.html",
        {
            "form": form,
            "title": "New reseller",
            "submit": "Create reseller",
            "parents": parents,
            "parent_id": parent_id,
        },
    )


def _reseller_create(actor, parent, brand_name, domain, data):
    from django.db import transaction

    with transaction.atomic():
        reseller = services.organization_create(
            actor=actor, parent=parent, kind=OrgKind.RESELLER, brand_name=brand_name, **data
        )
        if domain:
            services.brand_domain_add(actor=actor, brand=reseller.brand, domain=domain)
    return reseller


def _team_context(request, target: Organization) -> dict:
    members = list(selectors.organization_members(target))
    invitations = [
        i
        for i in Invitation.objects.filter(organization=target).select_related("invited_by")[:50]
        if i.state == "open"
    ]
    manage = access.can(request.user, "members.manage", target)
    return {
        "target": target,
        "members": members,
        "invitations": invitations,
        "can_manage": manage,
        "roles": [(r, r.title()) for r in target.roles],
        "invite_form": InviteForm(roles=target.roles),
    }


def _team_post(request, target: Organization):
    """The member actions of a team page: invite, change role, deactivate, reactivate, revoke."""
    action = request.POST.get("action")
    try:
        if action == "invite":
            form = InviteForm(request.POST, roles=target.roles)
            if not form.is_valid():
                return form
            invitation, _ = services.invitation_create(
                actor=request.user, organization=target, **form.cleaned_data
            )
            messages.success(
                request,
                translation.gettext("An invitation was sent to %(email)s.")
                % {"email": invitation.email},
            )
        elif action in ("change_role", "deactivate", "reactivate"):
            membership = access.access_membership(request.user, request.POST.get("membership"))
            if membership.organization_id != target.pk:
                raise NotFound("No such member.")
            if action == "change_role":
                # The service checks the role against the organization's kind and says which
                # roles exist.
                role = request.POST.get("role", "")
                services.membership_change_role(
                    actor=request.user, membership=membership, role=role
                )
                messages.success(
                    request,
                    translation.gettext("%(email)s is now %(role)s.")
                    % {"email": membership.user.email, "role": role},
                )
            elif action == "deactivate":
                services.membership_deactivate(actor=request.user, membership=membership)
                messages.success(
                    request,
                    translation.gettext("%(email)s can no longer sign in here.")
                    % {"email": membership.user.email},
                )
            else:
                services.membership_reactivate(actor=request.user, membership=membership)
                messages.success(
                    request,
                    translation.gettext("%(email)s is active again.")
                    % {"email": membership.user.email},
                )
        elif action == "revoke":
            invitation = access.access_invitation(request.user, request.POST.get("invitation"))
            if invitation.organization_id != target.pk:
                raise NotFound("No such invitation.")
            services.invitation_revoke(actor=request.user, invitation=invitation)
            messages.success(
                request,
                translation.gettext("The invitation to %(email)s was withdrawn.")
                % {"email": invitation.email},
            )
        else:
            messages.error(request, "Unknown action.")
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return None


def _team_page(request, target, template, back_url, extra=None):
    if request.method == "POST":
        bad_form = _team_post(request, target)
        if bad_form is None:
            return HttpResponseRedirect(request.get_full_path())
        context = _team_context(request, target)
        context["invite_form"] = bad_form
    else:
        context = _team_context(request, target)
    context.update(extra or {})
    context["back_url"] = back_url
    return render_console(request, template, context)


@seller_console
@require_http_methods(["GET", "POST"])
def console_team(request, org):
    return _team_page(request, org, "console/team.html", None, {"title": "Team"})


@seller_console
@require_http_methods(["GET", "POST"])
def console_org(request, org, target_id):
    target = access.access_organization(request.user, target_id)
    if not target.path.startswith(org.path) or target.pk == org.pk:
        raise Http404("No such organization.")
    with clock.on_day_of(target):  # a sandbox customer's page reads on its own day
        return _console_org_page(request, org, target)


def _console_org_page(request, org, target):
    back_url = _org_back_url(org, target)
    if request.method == "POST" and request.POST.get("action") == "edit":
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                services.organization_update(
                    actor=request.user, organization=target, **form.cleaned_data
                )
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                messages.success(request, "The details were saved.")
                return HttpResponseRedirect(request.get_full_path())
        context = {**_team_context(request, target), **_org_extra(request, target, form)}
        context["back_url"] = back_url
        return render_console(request, "console/org_detail.html", context)
    form = OrganizationForm(initial=_org_initial(target))
    return _team_page(
        request, target, "console/org_detail.html", back_url, _org_extra(request, target, form)
    )


@seller_console
@require_http_methods(["POST"])
def console_sandbox_advance(request, org, target_id):
    """The Advance buttons of a sandbox customer's page: move its day, say what happened."""
    target = access.access_organization(request.user, target_id)
    if not target.path.startswith(org.path) or target.pk == org.pk:
        raise Http404("No such organization.")
    to_renewal = request.POST.get("to") == "renewal"
    try:
        done = sandbox_clock.sandbox_advance(
            actor=request.user,
            customer=target,
            days=None if to_renewal else request.POST.get("days"),
            to_renewal=to_renewal,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.summary())
    return redirect("console_org", org_id=org.pk, target_id=target.pk)


def _org_back_url(org, target):
    name = "console_customers" if target.is_customer else "console_resellers"
    return reverse(name, kwargs={"org_id": org.pk})


def _org_extra(request, target, form):
    chain = list(Organization.objects.filter(pk__in=target.ancestor_ids[:-1]).order_by("depth"))
    extra = {
        "title": target.name,
        "edit_form": form,
        "can_edit": access.can(request.user, "org.edit", target),
        "chain": chain,
    }
    if target.sandbox:
        extra["sandbox_renewal"] = sandbox_clock.next_renewal(target)
        extra["can_advance"] = access.can(request.user, "sandbox.advance", target)
        extra["advance_steps"] = ((1, "1 day"), (7, "7 days"), (30, "30 days"))
    if target.is_seller:
        extra["target_brand"] = Brand.objects.filter(organization=target).first()
        extra["can_brand"] = access.can(request.user, "brand.manage", target)
        extra["child_counts"] = target.children.aggregate(
            customers=Count("pk", filter=Q(kind=OrgKind.CUSTOMER)),
            resellers=Count("pk", filter=Q(kind=OrgKind.RESELLER)),
        )
    return extra


def _org_initial(org: Organization) -> dict:
    return {field: getattr(org, field) for field in OrganizationForm.base_fields}


def _brand_page(request, brand: Brand, back_url: str | None):
    form = BrandForm(
        request.POST or None,
        request.FILES or None,
        initial={f: getattr(brand, f) for f in services.BRAND_FIELDS},
    )
    domain_form = DomainForm()
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "save" and form.is_valid():
                data = dict(form.cleaned_data)
                logo = data.pop("logo")
                clear = data.pop("clear_logo")
                services.brand_update(
                    actor=request.user, brand=brand, logo=logo or None, clear_logo=clear, **data
                )
                messages.success(request, "The brand was saved.")
                return HttpResponseRedirect(request.get_full_path())
            if action == "add_domain":
                form = BrandForm(initial={f: getattr(brand, f) for f in services.BRAND_FIELDS})
                domain_form = DomainForm(request.POST)
                if domain_form.is_valid():
                    services.brand_domain_add(
                        actor=request.user, brand=brand, **domain_form.cleaned_data
                    )
                    messages.success(request, f"{domain_form.cleaned_data['domain']} was added.")
                    return HttpResponseRedirect(request.get_full_path())
            if action == "remove_domain":
                domain = access.access_brand_domain(request.user, request.POST.get("domain"))
                if domain.brand_id != brand.pk:
                    raise NotFound("No such domain.")
                services.brand_domain_remove(actor=request.user, domain=domain)
                messages.success(request, f"{domain.domain} was removed.")
                return HttpResponseRedirect(request.get_full_path())
        except ApplicationError as exc:
            if isinstance(exc, NotFound):
                raise Http404(exc.message) from None
            apply_error(request, exc, domain_form if action == "add_domain" else form)
    return render_console(
        request,
        "console/brand.html",
        {
            "target_brand": brand,
            "form": form,
            "domain_form": domain_form,
            "domains": list(brand.domains.all()),
            "back_url": back_url,
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_brand(request, org):
    brand = access.access_brand(request.user, org.pk, action="brand.manage")
    return _brand_page(request, brand, None)


@seller_console
@require_http_methods(["GET", "POST"])
def console_org_brand(request, org, target_id):
    target = access.access_organization(request.user, target_id)
    if not target.path.startswith(org.path):
        raise Http404("No such organization.")
    brand = access.access_brand(request.user, target.pk, action="brand.manage")
    return _brand_page(
        request, brand, reverse("console_org", kwargs={"org_id": org.pk, "target_id": target.pk})
    )


def _audit_page(request, org):
    access.require(request.user, "audit.view", org)
    events = access.visible_audit_events(request.user).filter(
        organization__path__startswith=org.path
    )
    action = clean_text(request.GET.get("action", ""))
    if action:
        events = events.filter(action__startswith=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render_console(request, "console/audit.html", {"page": page, "action": action})


@seller_console
def console_audit(request, org):
    try:
        return _audit_page(request, org)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("console_dashboard", org_id=org.pk)


# --- customer portal --------------------------------------------------------------------------


@customer_console
def customer_dashboard(request, org):
    """Where the customer stands (portal.overview); the block follows work under way by
    itself (portal.live)."""
    standing = overview.customer_overview(org, user=request.user)
    context = {"overview": standing, "live": standing.live}
    if live.wants_status(request):
        return live.render_status(request, "customer/_overview.html", context)
    return render_console(
        request,
        "customer/dashboard.html",
        {**context, "seller": org.parent, "seller_brand": request.console_brand},
    )


@customer_console
@require_http_methods(["GET", "POST"])
def customer_team(request, org):
    return _team_page(request, org, "console/team.html", None, {"title": "Team"})


@customer_console
@require_http_methods(["GET", "POST"])
def customer_company(request, org):
    can_edit = access.can(request.user, "org.edit", org)
    form = OrganizationForm(request.POST or None, initial=_org_initial(org))
    if request.method == "POST":
        if not can_edit:
            messages.error(request, access.DENIED_MESSAGES["org.edit"])
        elif form.is_valid():
            try:
                saved = services.organization_update(
                    actor=request.user, organization=org, **form.cleaned_data
                )
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                with translation.override(i18n.language_of(saved)):  # a new choice speaks at once
                    messages.success(
                        request, translation.gettext("Your company details were saved.")
                    )
                return HttpResponseRedirect(request.get_full_path())
    return render_console(request, "customer/company.html", {"form": form, "can_edit": can_edit})


@customer_console
def customer_audit(request, org):
    """The activity log in plain words (portal.plain): sentences instead of action codes,
    filtered by topic instead of by code."""
    try:
        access.require(request.user, "audit.view", org)
        events = access.visible_audit_events(request.user).filter(
            organization__path__startswith=org.path
        )
        topic = request.GET.get("topic", "")
        if topic in plain.ACTIVITY_GROUPS:
            prefixes = plain.ACTIVITY_GROUPS[topic][1]
            match = Q()
            for prefix in prefixes:
                match |= Q(action__startswith=prefix)
            events = events.filter(match)
        else:
            topic = ""
        page = Paginator(events.select_related("actor"), 50).get_page(request.GET.get("page"))
        return render_console(
            request,
            "customer/activity.html",
            {"page": page, "topic": topic, "topics": plain.ACTIVITY_GROUPS},
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("customer_dashboard", org_id=org.pk)


# --- profile ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    new_key = None
    form = ApiTokenForm(request.POST if request.POST.get("action") == "create_token" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create_token" and form.is_valid():
                _, new_key = services.api_token_create(
                    user=request.user, name=form.cleaned_data["name"]
                )
                form = ApiTokenForm()
            elif action == "revoke_token":
                token = access.access_api_token(request.user, request.POST.get("token"))
                services.api_token_revoke(user=request.user, token=token)
                messages.success(request, f"The token {token.name} was revoked.")
                return redirect("profile")
            elif action == "save_name":
                name = request.POST.get("full_name", "").strip()[:150]
                request.user.full_name = name
                request.user.save(update_fields=["full_name"])
                messages.success(request, "Your name was saved.")
                return redirect("profile")
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ApplicationError as exc:
            apply_error(request, exc, form)
    return render(
        request,
        "portal/profile.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "token_form": form,
            "new_key": new_key,
            "memberships": _my_memberships(request.user),
        },
    )


# --- invitations ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    try:
        invitation = services.invitation_by_token(token)
    except NotFound:
        return render(request, "portal/invitation.html", {"invalid": True}, status=404)
    state = invitation.state
    existing_account = invitation.email.lower() if _user_exists(invitation.email) else None
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and state == "open":
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(token=token, user=request.user)
            elif form.is_valid():
                membership = services.invitation_accept(
                    token=token,
                    password=form.cleaned_data["password"],
                    full_name=form.cleaned_data["full_name"],
                )
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                membership = None
        except ApplicationError as exc:
            apply_error(request, exc, form)
        else:
            if membership is not None:
                messages.success(request, f"Welcome to {membership.organization.name}.")
                return redirect(console_url(membership))
    return render(
        request,
        "portal/invitation.html",
        {
            "invitation": invitation,
            "state": state,
            "form": form,
            "existing_account": existing_account,
            "wrong_user": request.user.is_authenticated
            and request.user.email.lower() != invitation.email.lower(),
        },
    )


def _user_exists(email: str) -> bool:
    from portal.models import User

    return User.objects.filter(email__iexact=email).exists()
