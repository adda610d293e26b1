"""``manage.py bootstrap``: set up a new installation, once; running it again changes nothing.

From the environment:

* ``PORTAL_PROVIDER_NAME``: the provider organization's name (its brand's too);
* ``PORTAL_PROVIDER_DOMAIN``: its storefront's primary domain, e.g. ``portal.example.com``;
* ``PORTAL_ADMIN_EMAIL``: the first provider admin's e-mail address (their login);
* ``PORTAL_ADMIN_PASSWORD`` (optional): their password; without it one is generated and
  printed once;
* ``PORTAL_ADMIN_NAME`` (optional): their full name.

It creates what is missing and never changes what exists: the provider organization with its
brand and primary domain (``provider_create``), the admin (a person with a verified address) and
their admin membership, each through the services, acting as ``system("bootstrap")``. A second
run finds everything and says so. Everything is checked before anything is written, and the
writes are one transaction: bad input writes nothing.

The provider's Box platform app: when the connector points at the Box simulator (the sandbox
stack), it is registered there with ``BOX_PLATFORM_CLIENT_ID`` and ``BOX_PLATFORM_CLIENT_SECRET``
(as ``make demo`` does); at Box it is made once in the Developer Console, so only the settings
are checked (docs/connector.md).
"""

from __future__ import annotations

import os
import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal import services
from portal.actors import system
from portal.errors import ApplicationError
from portal.models import Membership, Organization, OrgKind, Role, User, domain_validator
from portal.stand_ins import is_box_simulator_url

SYSTEM = system("bootstrap")
REQUIRED = ("PORTAL_PROVIDER_NAME", "PORTAL_PROVIDER_DOMAIN", "PORTAL_ADMIN_EMAIL")
SIMULATOR_WAIT_SECONDS = 60
# Which variable a service's complaint about a field is about.
FIELD_VARIABLES = {
    "name": "PORTAL_PROVIDER_NAME",
    "domain": "PORTAL_PROVIDER_DOMAIN",
    "email": "PORTAL_ADMIN_EMAIL",
    "password": "PORTAL_ADMIN_PASSWORD",
}


class Command(BaseCommand):
    help = (
        "Create the provider, its brand and domain, and the first provider admin from "
        "PORTAL_PROVIDER_NAME, PORTAL_PROVIDER_DOMAIN, PORTAL_ADMIN_EMAIL and "
        "PORTAL_ADMIN_PASSWORD (generated when unset); register the Box platform app in the "
        "simulator when pointed at one. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--simulator-wait",
            type=float,
            default=SIMULATOR_WAIT_SECONDS,
            help="Seconds to wait for the Box simulator to answer (sandbox stack).",
        )

    def handle(self, *args, simulator_wait=SIMULATOR_WAIT_SECONDS, **options):
        wanted = self._read_environment()
        self._platform_app(wait=simulator_wait)
        try:
            created, notes, password = self._set_up(**wanted)
        except ApplicationError as exc:
            # What the services refused (a weak password, a domain in use): nothing was written.
            field = next(iter(exc.fields or {}), "")
            variable = FIELD_VARIABLES.get(field)
            raise CommandError(f"{variable}: {exc.message}" if variable else exc.message) from None
        for note in notes:
            self.stdout.write(note)
        if not created:
            self.stdout.write(
                self.style.SUCCESS("Nothing to do: the portal is already set up; nothing changed.")
            )
            return
        for line in created:
            self.stdout.write(self.style.SUCCESS(f"Created {line}."))
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"Password of {wanted['email']} (shown once; change it after logging in): "
                    f"{password}"
                )
            )

    # --- input ------------------------------------------------------------------------------

    def _read_environment(self) -> dict:
        values = {name: os.environ.get(name, "").strip() for name in REQUIRED}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise CommandError(
                "bootstrap needs these environment variables: " + ", ".join(missing) + "."
            )
        try:
            email = services.clean_email(values["PORTAL_ADMIN_EMAIL"])
        except ApplicationError:
            raise CommandError(
                f"PORTAL_ADMIN_EMAIL={values['PORTAL_ADMIN_EMAIL']!r} is not a valid e-mail "
                "address."
            ) from None
        domain = values["PORTAL_PROVIDER_DOMAIN"].lower().rstrip(".")
        try:
            domain_validator(domain)
        except DjangoValidationError as exc:
            raise CommandError(
                f"PORTAL_PROVIDER_DOMAIN={values['PORTAL_PROVIDER_DOMAIN']!r}: {exc.messages[0]}"
            ) from None
        name = values["PORTAL_PROVIDER_NAME"]
        full_name = os.environ.get("PORTAL_ADMIN_NAME", "").strip() or f"{name} Admin"
        password = os.environ.get("PORTAL_ADMIN_PASSWORD", "")
        return {
            "name": name,
            "domain": domain,
            "email": email,
            "full_name": full_name,
            "password": password,
        }

    # --- the Box platform app -----------------------------------------------------------------

    def _platform_app(self, *, wait: float) -> None:
        client_id = settings.BOX_PLATFORM_CLIENT_ID
        if not client_id or not settings.BOX_PLATFORM_CLIENT_SECRET:
            raise CommandError(
                "BOX_PLATFORM_CLIENT_ID and BOX_PLATFORM_CLIENT_SECRET must be set: the "
                "provider's Box platform app (docs/connector.md)."
            )
        url = settings.BOX_API_BASE_URL
        if not is_box_simulator_url(url):
            self.stdout.write(
                f"Box platform app: client ID {client_id} is configured for {url}; it is made "
                "in Box's Developer Console and authorised by each customer's enterprise "
                "(docs/connector.md)."
            )
            return
        from boxsim.testing import SimControl, SimulatorError

        control = SimControl(url)
        deadline = time.monotonic() + wait
        while True:
            try:
                control.health()
                break
            except Exception:
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"BOX_API_BASE_URL={url!r} is the Box simulator, which does not answer; "
                        "start it (the sandbox stack's boxsim service) and run bootstrap again."
                    ) from None
                time.sleep(1)
        try:
            control.create_app(
                settings.BOX_PLATFORM_APP_NAME,
                client_id=client_id,
                client_secret=settings.BOX_PLATFORM_CLIENT_SECRET,
            )
        except SimulatorError as exc:
            if " 409 " not in str(exc):
                raise CommandError(f"The Box simulator refused the platform app: {exc}") from None
            self.stdout.write(
                f"Box platform app {client_id}: already registered in the simulator at {url}."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Box platform app {client_id}: registered in the simulator at {url}."
            )
        )

    # --- the provider and its admin -------------------------------------------------------------

    @transaction.atomic
    def _set_up(self, *, name, domain, email, full_name, password):
        created, notes = [], []
        provider = Organization.objects.filter(kind=OrgKind.PROVIDER).first()
        if provider is None:
            provider = services.provider_create(
                actor=SYSTEM, name=name, brand_name=name, domains=[domain], contact_email=email
            )
            created.append(f"the provider {name!r} with its brand and primary domain {domain}")
        else:
            if provider.name != name:
                notes.append(
                    f"The provider exists as {provider.name!r}; bootstrap does not rename it."
                )
            domains = list(provider.brand.domains.values_list("domain", flat=True))
            if domain not in domains:
                notes.append(
                    f"The provider's storefront domains are {', '.join(domains) or 'none'}; "
                    f"add {domain} in the console if it should be one."
                )
        user = User.objects.filter(email__iexact=email).first()
        generated = ""
        if user is None:
            if not password:
                generated = password = secrets.token_urlsafe(18)
            user = services.user_create(
                email=email, password=password, full_name=full_name, verified=True
            )
            services.membership_create(
                actor=SYSTEM, organization=provider, user=user, role=Role.ADMIN
            )
            created.append(f"the provider admin {email}")
        elif not Membership.objects.filter(
            user=user, organization=provider, role=Role.ADMIN, is_active=True
        ).exists():
            # Raising rolls back anything created above: bad input writes nothing.
            raise CommandError(
                f"{email} already has an account but is not an admin of the provider; "
                "bootstrap does not change existing people. Make them an admin in the "
                "console, or set PORTAL_ADMIN_EMAIL to a new address."
            )
        return created, notes, generated
