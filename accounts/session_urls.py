"""The browsable API's session login: `rest_framework.urls`, with a login form limited like the API's."""

from django.contrib.auth import views
from django.template.response import TemplateResponse
from django.urls import path

from accounts.forms import LoginForm


class LogoutView(views.LogoutView):
    """Django's, which logs out on a POST only; a GET (a typed or bookmarked URL) shows a page with the button."""

    http_method_names = ["get", *views.LogoutView.http_method_names]
    confirm_template_name = "rest_framework/logout.html"

    def get(self, request, *args, **kwargs):
        # `next` goes on to the POST, which checks it is a page of this site.
        next_page = request.GET.get(self.redirect_field_name, "")
        return TemplateResponse(request, self.confirm_template_name, {"next": next_page})


app_name = "rest_framework"
urlpatterns = [
    path(
        "login/",
        views.LoginView.as_view(template_name="rest_framework/login.html", authentication_form=LoginForm),
        name="login",
    ),
    # To the home page, unless `next` names a page of this site (an unsafe one led to a blank 405).
    path("logout/", LogoutView.as_view(next_page="home"), name="logout"),
]
