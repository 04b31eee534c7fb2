"""The login pages (admin, browsable API) are limited like POST /api/auth/token/, on the same count."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuthToken
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["/admin/login/", "/api-auth/login/"]
THROTTLED = "Too many login attempts from your address: try again in"


@pytest.fixture(autouse=True)
def login_rate(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "3/min"}}
    cache.clear()


def log_in(client, page, username, password):
    return client.post(page, {"username": username, "password": password, "next": "/api/"})


@pytest.mark.parametrize("page", PAGES)
def test_a_login_page_stops_checking_passwords_past_the_rate(page, password):
    staff = UserFactory(is_staff=True, password=password)
    client = Client()

    wrong = [log_in(client, page, staff.username, "wrong") for _ in range(3)]
    right = log_in(client, page, staff.username, password)

    assert [response.status_code for response in wrong] == [200, 200, 200]
    assert all(THROTTLED not in response.content.decode() for response in wrong)
    assert right.status_code == 200  # the form again: the right password is not even checked
    assert THROTTLED in right.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address still gets through.
    assert log_in(Client(REMOTE_ADDR="10.0.0.2"), page, staff.username, password).status_code == 302


def test_the_pages_and_the_api_share_one_count(password):
    staff = UserFactory(is_staff=True, password=password)
    api = APIClient()

    log_in(Client(), "/admin/login/", staff.username, "wrong")
    log_in(Client(), "/api-auth/login/", staff.username, "wrong")
    api.post("/api/auth/token/", {"username": staff.username, "password": "wrong"}, format="json")
    response = api.post("/api/auth/token/", {"username": staff.username, "password": password}, format="json")

    assert response.status_code == 429
    assert not AuthToken.objects.exists()


def test_under_the_rate_a_login_page_logs_in(password):
    staff = UserFactory(is_staff=True, password=password)
    client = Client()

    response = log_in(client, "/api-auth/login/", staff.username, password)

    assert (response.status_code, response["Location"]) == (302, "/api/")
    assert client.session["_auth_user_id"] == str(staff.pk)
