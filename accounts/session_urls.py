"""The browsable API's session login: `rest_framework.urls`, with a login form limited like the API's."""

from django.contrib.auth import views
from django.urls import path

from accounts.forms import LoginForm

app_name = "rest_framework"
urlpatterns = [
    path(
        "login/",
        views.LoginView.as_view(template_name="rest_framework/login.html", authentication_form=LoginForm),
        name="login",
    ),
    # To the home page, unless `next` names a page of this site (an unsafe one led to a blank 405).
    path("logout/", views.LogoutView.as_view(next_page="home"), name="logout"),
]
