"""The seller console's dashboard (to-dos, figures and charts) and a person's staff alert
setting, shown on their profile page (/me/)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from consoles import dashboards, services
from portal import access
from portal.errors import ApplicationError
from portal.models import Membership, OrgKind
from portal.views import render_console, seller_console


@seller_console
def console_dashboard(request, org):
    below = access.visible_organizations(request.user).filter(path__startswith=org.path)
    counts = below.aggregate(
        customers=Count("pk", filter=Q(kind=OrgKind.CUSTOMER)),
        direct_customers=Count("pk", filter=Q(kind=OrgKind.CUSTOMER, parent=org)),
        resellers=Count("pk", filter=Q(kind=OrgKind.RESELLER)),
    )
    recent_customers = (
        below.filter(kind=OrgKind.CUSTOMER).select_related("parent").order_by("-created_at")[:5]
    )
    events = []
    if access.can(request.user, "audit.view", org):
        events = access.visible_audit_events(request.user).filter(
            organization__path__startswith=org.path
        )[:8]
    figures = dashboards.charts(request.user, org)
    todos = dashboards.todos(request.user, org)
    return render_console(
        request,
        "console/dashboard.html",
        {
            "counts": counts,
            "team_count": Membership.objects.filter(organization=org, is_active=True).count(),
            "recent_customers": recent_customers,
            "events": events,
            "todos": todos,
            "todo_total": sum(t.count for t in todos),
            "figures": figures,
            "chart_data": dashboards.chart_data(figures),
        },
    )


@login_required
@require_POST
def alert_settings(request):
    """Turn one's own staff alert e-mails on or off, from the profile page."""
    choice = request.POST.get("email_alerts", "")
    if choice not in ("on", "off"):
        messages.error(request, "Choose whether to receive alert e-mails.")
        return redirect("profile")
    try:
        services.alert_setting_update(actor=request.user, email_alerts=choice == "on")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "You will receive alert e-mails."
            if choice == "on"
            else "You will no longer receive alert e-mails.",
        )
    return redirect("profile")
