from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthToken, User
from accounts.throttles import client_network

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def test_login_answers_a_token_with_its_expiry_and_user(api_client, user, password):
    response = login(api_client, user.username, password)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["user"] == {"id": user.pk, "username": user.username}
    expires_at = AuthToken.objects.get(user=user).expiry
    assert timedelta(days=29) < expires_at - timezone.now() <= timedelta(days=30)


def test_answers_with_a_token_or_the_credentials_typed_are_kept_by_no_cache(api_client, user, password, settings):
    settings.NOTES_ALLOW_SIGNUP = True

    answers = [
        login(api_client, user.username, password),
        login(api_client, user.username, "wrong password"),
        api_client.post("/api/auth/register/", {"username": "newcomer", "password": password}, format="json"),
    ]

    assert [answer.status_code for answer in answers] == [200, 400, 201]
    for answer in answers:
        assert "no-store" in answer["Cache-Control"]


def test_token_is_stored_only_as_a_digest(api_client, user, password):
    token = login(api_client, user.username, password).json()["token"]

    stored = AuthToken.objects.get(user=user)
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.digest) == 128


def test_wrong_password_is_400_non_field_errors_and_no_token(api_client, user):
    response = login(api_client, user.username, "wrong password")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not AuthToken.objects.exists()


def test_unknown_user_is_the_same_400(api_client, db):
    response = login(api_client, "nobody", "whatever")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_missing_credentials_name_the_fields(api_client, db):
    response = api_client.post("/api/auth/token/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_inactive_user_cannot_log_in(api_client, user, password):
    user.is_active = False
    user.save()

    assert login(api_client, user.username, password).status_code == 400


def test_token_authenticates_requests(api_client, user, password):
    token = login(api_client, user.username, password).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.get("/api/auth/me/")

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": user.username}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Token",
        "Token not-a-real-token",
        "Token two words",
        "Token \u00e9\u00e9\u00e9",
        "Bearer abcdef",
    ],
)
def test_missing_or_bad_token_is_401_with_www_authenticate(api_client, db, header):
    if header is not None:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get("/api/notes/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_expired_token_is_401(api_client, user):
    _, token = AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.get("/api/auth/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_logout_revokes_only_this_token(user):
    _, first = AuthToken.objects.create(user=user)
    _, second = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")

    response = client.post("/api/auth/logout/")

    assert response.status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/auth/me/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user(user, other_user):
    _, first = AuthToken.objects.create(user=user)
    _, second = AuthToken.objects.create(user=user)
    AuthToken.objects.create(user=other_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")

    response = client.post("/api/auth/logout-all/")

    assert response.status_code == 204
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuthToken.objects.filter(user=other_user).count() == 1
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/auth/me/").status_code == 401


def test_logout_all_from_a_browsers_session_revokes_every_token(user):
    AuthToken.objects.create(user=user)
    AuthToken.objects.create(user=user)
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    csrf = browser.get("/api/auth/me/", HTTP_ACCEPT="text/html").cookies["csrftoken"].value

    refused = browser.post("/api/auth/logout-all/")
    response = browser.post("/api/auth/logout-all/", HTTP_X_CSRFTOKEN=csrf)

    assert refused.status_code == 403  # a session's request carries its CSRF token
    assert response.status_code == 204
    assert not AuthToken.objects.filter(user=user).exists()


def test_logout_without_a_token_is_401(api_client, db):
    assert api_client.post("/api/auth/logout/").status_code == 401
    assert api_client.post("/api/auth/logout-all/").status_code == 401


def test_me_requires_authentication(api_client, db):
    assert api_client.get("/api/auth/me/").status_code == 401


def test_session_login_reaches_the_api_for_the_browsable_pages(api_client, user):
    api_client.force_login(user)

    response = api_client.get("/api/auth/me/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Log out" in response.content or user.username.encode() in response.content


def test_registration_is_off_by_default(api_client, db):
    response = api_client.post("/api/auth/register/", {"username": "new", "password": "x"}, format="json")

    assert response.status_code == 403
    assert "Sign-up is disabled" in response.json()["detail"]
    assert not User.objects.filter(username="new").exists()


@pytest.fixture
def signup(settings):
    settings.NOTES_ALLOW_SIGNUP = True


def test_registration_creates_a_user_and_answers_a_working_token(api_client, signup, password):
    response = api_client.post("/api/auth/register/", {"username": "newcomer", "password": password}, format="json")

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="newcomer")
    assert body["user"] == {"id": user.pk, "username": "newcomer"}
    assert user.check_password(password)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api_client.get("/api/auth/me/").json()["username"] == "newcomer"


def test_registration_with_an_unknown_field_is_400_and_creates_no_one(api_client, signup, password):
    body = {"username": "newcomer", "password": password, "is_staff": True}

    response = api_client.post("/api/auth/register/", body, format="json")

    assert (response.status_code, response.json()) == (400, {"is_staff": ["Unknown field."]})
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_answers_an_unknown_field_beside_the_other_fields_errors(api_client, signup):
    body = {"username": "", "password": 42, "is_staff": True}

    response = api_client.post("/api/auth/register/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password", "is_staff"}
    assert response.json()["is_staff"] == ["Unknown field."]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "weak_password",
    ["short", "password", "12345678901", "newcomer123"],
)
def test_registration_applies_djangos_password_validators(api_client, signup, weak_password):
    response = api_client.post(
        "/api/auth/register/", {"username": "newcomer", "password": weak_password}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["password"]
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_refuses_a_name_differing_only_in_case(api_client, signup, user, password):
    response = api_client.post(
        "/api/auth/register/", {"username": user.username.upper(), "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


@pytest.mark.parametrize("field", ["username", "password"])
def test_registration_refuses_numbers_for_strings(api_client, signup, password, field):
    # Regression (issue 8, found by schemathesis): 1.5e+300 became the password "1.5e+300".
    body = {"username": "newcomer", "password": password, field: 1.5e300}

    response = api_client.post("/api/auth/register/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {field: ["Not a valid string."]}
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["", "has space", "a" * 151, "semi;colon"])
def test_registration_refuses_bad_usernames(api_client, signup, password, username):
    response = api_client.post("/api/auth/register/", {"username": username, "password": password}, format="json")

    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize(
    "username",
    [
        "\ufb03" * 51,  # 51 characters sent, 153 once NFKC-normalised: past the 150 a name may have
        "x\ufdfa",  # NFKC makes it a phrase with spaces, which a name may not hold
    ],
)
def test_registration_checks_the_name_as_it_would_be_stored(api_client, signup, password, username):
    response = api_client.post("/api/auth/register/", {"username": username, "password": password}, format="json")

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.exists()


def test_registration_stores_and_answers_the_normalised_name(api_client, signup, password):
    response = api_client.post("/api/auth/register/", {"username": "a\u2168", "password": password}, format="json")

    assert response.status_code == 201
    assert response.json()["user"]["username"] == "aIX"
    assert User.objects.get().username == "aIX"


@pytest.mark.parametrize("address", ["z" * 300, "2001:db8::1", "x" * 4000])
def test_any_forwarded_address_is_counted_never_a_500(api_client, user, settings, address):
    """With a proxy trusted, the address is whatever X-Forwarded-For says: the key must still fit the cache."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_RATES": {"login": "2/min"},
    }
    cache.clear()
    body = {"username": user.username, "password": "wrong"}

    statuses = [
        api_client.post("/api/auth/token/", body, format="json", HTTP_X_FORWARDED_FOR=address).status_code
        for _ in range(3)
    ]

    assert statuses == [400, 400, 429]


def test_a_cache_that_cannot_keep_the_count_lets_the_request_by(api_client, user, monkeypatch):
    """The database cache's add() answers False on any database error, and the key is then not there."""
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: False)
    cache.clear()

    assert login(api_client, user.username, "wrong").status_code == 400


def test_login_is_throttled_per_address_with_retry_after(api_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "register": "3/min"},
    }
    cache.clear()

    statuses = [login(api_client, user.username, "wrong").status_code for _ in range(3)]
    response = login(api_client, user.username, "wrong")

    assert statuses == [400, 400, 400]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # Another address still gets through.
    assert login(APIClient(REMOTE_ADDR="10.0.0.2"), user.username, "wrong").status_code == 400


def test_ipv6_clients_are_counted_by_their_64_network(user, settings):
    # One client is given a whole /64: a new address in it for each attempt passed the limit.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "3/min"}}
    cache.clear()

    same_network = [
        login(APIClient(REMOTE_ADDR=f"2001:db8:1:2::{n:x}"), user.username, "wrong").status_code for n in range(1, 5)
    ]
    next_network = login(APIClient(REMOTE_ADDR="2001:db8:1:3::1"), user.username, "wrong")

    assert same_network == [400, 400, 400, 429]
    assert next_network.status_code == 400


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("not an address", "not an address"),
    ],
)
def test_who_an_address_counts_as(address, counted_as):
    assert client_network(address) == counted_as


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/register/"])
def test_reading_the_login_and_register_forms_uses_up_no_attempt(api_client, signup, settings, path):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/min", "register": "2/min"},
    }
    cache.clear()

    looked = [api_client.get(path).status_code, api_client.options(path).status_code]
    looked += [api_client.get(path, HTTP_ACCEPT="text/html").status_code for _ in range(3)]
    posted = [api_client.post(path, {}, format="json").status_code for _ in range(3)]

    assert looked == [405, 200, 405, 405, 405]
    assert posted == [400, 400, 429]


def test_registration_is_throttled_per_address(api_client, signup, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "register": "2/min"},
    }
    cache.clear()

    for _ in range(2):
        api_client.post("/api/auth/register/", {}, format="json")
    response = api_client.post("/api/auth/register/", {}, format="json")

    assert response.status_code == 429
    assert "Retry-After" in response


def test_closed_sign_up_answers_403_past_the_register_rate_and_counts_nothing(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "register": "2/min"},
    }
    cache.clear()

    closed = [api_client.post("/api/auth/register/", {}, format="json") for _ in range(4)]
    settings.NOTES_ALLOW_SIGNUP = True
    opened = [api_client.post("/api/auth/register/", {}, format="json").status_code for _ in range(3)]

    assert [response.status_code for response in closed] == [403] * 4
    assert all("Sign-up is disabled" in response.json()["detail"] for response in closed)
    assert opened == [400, 400, 429]


def test_closed_sign_up_leaves_other_methods_their_405(api_client, db):
    response = api_client.get("/api/auth/register/")

    assert response.status_code == 405


def test_throttle_counts_live_in_the_shared_database_cache(api_client, user, settings):
    """Counts in the database are seen by every worker; LocMem would count per process."""
    assert settings.CACHES["default"]["BACKEND"] == "notesite.cache.DatabaseCache"
    cache.clear()

    login(api_client, user.username, "wrong")

    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM notes_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any("throttle_login_127.0.0.1" in key for key in keys)
