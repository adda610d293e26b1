from rest_framework.routers import SimpleRouter

from orders.api import views

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("seats", views.SeatViewSet, basename="seat")

urlpatterns = router.urls
