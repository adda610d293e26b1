"""The catalog's endpoints under ``/api/v1/``."""

from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("plans", views.PlanViewSet, basename="plan")
router.register("prices", views.PriceViewSet, basename="price")
router.register("offers", views.OfferViewSet, basename="offer")
router.register("price-lists", views.PriceListViewSet, basename="price-list")
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("tax-rates", views.TaxRateViewSet, basename="tax-rate")
router.register("sellers", views.SellerCurrencyViewSet, basename="seller")
router.register("quotes", views.QuoteViewSet, basename="quote")

urlpatterns = router.urls
