from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin, whose `admin.site` is the project's own."""

    default_site = "notesite.admin_site.AdminSite"
