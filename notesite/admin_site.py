"""The admin site: Django's, with account pages held to the API's rules (accounts/forms.py)."""

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.urls import reverse

from accounts.forms import AdminLoginForm, OwnPasswordChangeForm
from accounts.services import PasswordChangedMeanwhile


class OwnPasswordChangeView(PasswordChangeView):
    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except PasswordChangedMeanwhile:
            # Another change came first: the old password given is no longer the password.
            form.add_error("old_password", form.error_messages["password_incorrect"])
            return self.form_invalid(form)


class AdminSite(admin.AdminSite):
    """Logging in and changing one's password are limited as the API's are; a change revokes the API tokens."""

    login_form = AdminLoginForm
    password_change_form = OwnPasswordChangeForm

    def password_change(self, request, extra_context=None):
        # Django's own view and template, with password_change_form: Django 6.0 reads that
        # attribute itself (https://code.djangoproject.com/ticket/36121), 5.2 names its form
        # inside this method. Drop the method on upgrading.
        defaults = {
            "form_class": self.password_change_form,
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return OwnPasswordChangeView.as_view(**defaults)(request)
