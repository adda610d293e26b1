"""Pages of payments, included by ``portal.urls``: the seller consoles' (``console``) and the
customer portal's (``customer``)."""

from payments.pages import console as console_pages
from payments.pages import customer as customer_pages

console = console_pages.urlpatterns
customer = customer_pages.urlpatterns
