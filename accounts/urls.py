from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import views

router = SimpleRouter()
router.register("tokens", views.TokenViewSet, basename="authtoken")

urlpatterns = [
    path("token/", views.LoginView.as_view(), name="auth-token"),
    path("register/", views.RegisterView.as_view(), name="auth-register"),
    path("logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("me/", views.MeView.as_view(), name="auth-me"),
    path("password/", views.PasswordChangeView.as_view(), name="auth-password"),
    *router.urls,
]
