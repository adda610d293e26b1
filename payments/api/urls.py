"""``/api/v1/`` endpoints of payments (mounted in portal/api/urls.py)."""

from rest_framework.routers import SimpleRouter

from payments.api import views

router = SimpleRouter()
router.register("payment-methods", views.PaymentMethodViewSet, basename="payment-method")
router.register("payment-accounts", views.PaymentAccountViewSet, basename="payment-account")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("refunds", views.RefundViewSet, basename="refund")
router.register("credit-balances", views.CreditBalanceViewSet, basename="credit-balance")
router.register("dunning", views.DunningViewSet, basename="dunning")

urlpatterns = router.urls
