"""Changing the password after a scare: validators apply, every other device is cut off."""

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.test import APIClient

from accounts.models import AuthToken, User
from accounts.serializers import PasswordChangeSerializer
from accounts.services import password_change, user_delete

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase"


def token_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def change(client, old, new):
    return client.post("/api/auth/password/", {"old_password": old, "new_password": new}, format="json")


def test_change_sets_the_new_password(auth_client, user, password):
    response = change(auth_client, password, NEW_PASSWORD)

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(password)


def test_change_revokes_every_other_token_and_keeps_the_current_one(user, other_user, password):
    _, current = AuthToken.objects.create(user=user)
    others = [AuthToken.objects.create(user=user)[1] for _ in range(2)]
    _, other_users = AuthToken.objects.create(user=other_user)
    client = token_client(current)

    change(client, password, NEW_PASSWORD)

    assert client.get("/api/auth/me/").status_code == 200
    assert [token_client(token).get("/api/auth/me/").status_code for token in others] == [401, 401]
    assert token_client(other_users).get("/api/auth/me/").status_code == 200
    assert AuthToken.objects.owned_by(user).count() == 1


def test_the_new_password_logs_in_and_the_old_one_does_not(auth_client, user, password):
    change(auth_client, password, NEW_PASSWORD)
    login = APIClient()

    old = login.post("/api/auth/token/", {"username": user.username, "password": password}, format="json")
    new = login.post("/api/auth/token/", {"username": user.username, "password": NEW_PASSWORD}, format="json")

    assert old.status_code == 400
    assert new.status_code == 200


def test_a_wrong_old_password_is_400_and_changes_nothing(user, password):
    _, current = AuthToken.objects.create(user=user)
    _, other = AuthToken.objects.create(user=user)

    response = change(token_client(current), "not my password", NEW_PASSWORD)

    assert response.status_code == 400
    assert response.json() == {"old_password": ["Your old password was entered incorrectly."]}
    user.refresh_from_db()
    assert user.check_password(password)
    assert token_client(other).get("/api/auth/me/").status_code == 200


@pytest.mark.parametrize(
    ("new_password", "problem"),
    [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("83749201384756", "This password is entirely numeric."),
    ],
)
def test_djangos_validators_apply_and_name_the_problem(auth_client, user, password, new_password, problem):
    response = change(auth_client, password, new_password)

    assert response.status_code == 400
    assert problem in response.json()["new_password"]
    user.refresh_from_db()
    assert user.check_password(password)


def test_a_password_like_the_username_is_refused(auth_client, user, password):
    response = change(auth_client, password, f"{user.username}!123")

    assert response.status_code == 400
    assert response.json()["new_password"] == ["The password is too similar to the username."]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"old_password", "new_password"}),
        ({"old_password": "x"}, {"new_password"}),
        ({"old_password": "", "new_password": ""}, {"old_password", "new_password"}),
        ({"old_password": 5, "new_password": ["x"]}, {"old_password", "new_password"}),
    ],
)
def test_missing_or_malformed_fields_are_400_naming_them(auth_client, body, fields):
    response = auth_client.post("/api/auth/password/", body, format="json")

    assert response.status_code == 400
    assert fields <= set(response.json())


def test_change_requires_authentication(api_client, user, password):
    response = change(api_client, password, NEW_PASSWORD)

    assert response.status_code == 401
    user.refresh_from_db()
    assert user.check_password(password)


def test_a_browser_session_stays_logged_in_after_changing_the_password(user, password):
    browser = APIClient(enforce_csrf_checks=False)
    browser.force_login(user)
    AuthToken.objects.create(user=user)

    response = change(browser, password, NEW_PASSWORD)

    assert response.status_code == 204
    assert browser.get("/api/auth/me/").status_code == 200
    assert not AuthToken.objects.owned_by(user).exists()


def test_other_browser_sessions_end_when_the_password_changes(auth_client, user, password):
    other_browser = APIClient()
    other_browser.force_login(user)

    change(auth_client, password, NEW_PASSWORD)

    assert other_browser.get("/api/auth/me/").status_code == 401


def test_a_browser_session_must_send_its_csrf_token(user, password):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)

    response = change(browser, password, NEW_PASSWORD)

    assert response.status_code == 403
    assert User.objects.get(pk=user.pk).check_password(password)


def test_guessing_the_old_password_is_throttled_per_user(auth_client, other_client, password, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"password": "3/min"}}
    cache.clear()

    statuses = [change(auth_client, f"guess {n}", NEW_PASSWORD).status_code for n in range(4)]

    assert statuses == [400, 400, 400, 429]
    assert int(change(auth_client, password, NEW_PASSWORD)["Retry-After"]) > 0
    assert change(other_client, "guess", NEW_PASSWORD).status_code == 400


def test_reading_the_password_form_uses_up_no_attempt(auth_client, password, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"password": "2/min"}}
    cache.clear()

    reads = [auth_client.get("/api/auth/password/").status_code for _ in range(3)]
    reads += [auth_client.options("/api/auth/password/").status_code for _ in range(3)]

    assert reads == [405, 405, 405, 200, 200, 200]
    assert change(auth_client, password, NEW_PASSWORD).status_code == 204


def test_a_login_checked_before_a_password_change_lands_gets_no_token(api_client, user, password, monkeypatch):
    """The change commits between the login's password check and its token: the login lost the race."""
    check = AuthTokenSerializer.validate

    def check_then_change(serializer, attrs):
        attrs = check(serializer, attrs)
        password_change(user=User.objects.get(pk=user.pk), new_password=NEW_PASSWORD)
        return attrs

    monkeypatch.setattr(AuthTokenSerializer, "validate", check_then_change)

    response = api_client.post("/api/auth/token/", {"username": user.username, "password": password}, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not AuthToken.objects.filter(user=user).exists()


def once_checked(monkeypatch, action):
    """`action` runs once the request's passwords are checked: another device's request committing then."""
    check = PasswordChangeSerializer.validate_new_password

    def check_then_act(serializer, value):
        value = check(serializer, value)
        action()
        return value

    monkeypatch.setattr(PasswordChangeSerializer, "validate_new_password", check_then_act)


def test_a_password_change_racing_the_accounts_deletion_is_401(auth_client, user, password, monkeypatch):
    once_checked(monkeypatch, lambda: user_delete(user=User.objects.get(pk=user.pk)))  # DELETE /api/auth/me/

    response = change(auth_client, password, NEW_PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"


OTHER_PASSWORD = "another device's new passphrase"


def test_of_two_changes_checked_against_one_password_the_second_is_400(auth_client, user, password, monkeypatch):
    # Both answered 204, and the first one's new password was lost.
    once_checked(monkeypatch, lambda: password_change(user=User.objects.get(pk=user.pk), new_password=OTHER_PASSWORD))

    response = change(auth_client, password, NEW_PASSWORD)

    assert response.status_code == 400
    assert response.json() == {"old_password": ["Your old password was entered incorrectly."]}
    assert User.objects.get(pk=user.pk).check_password(OTHER_PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_a_password_is_hashed_outside_the_transaction(auth_client, api_client, password, settings, monkeypatch):
    # On SQLite the transaction holds the write lock: every writer waited for each hash.
    settings.NOTES_ALLOW_SIGNUP = True
    hashed_in_a_transaction = []
    set_password = User.set_password

    def noted(hash_password):
        def hashing(*args):
            hashed_in_a_transaction.append(connection.in_atomic_block)
            return hash_password(*args)

        return hashing

    monkeypatch.setattr(User, "set_password", noted(set_password))  # registration
    monkeypatch.setattr("accounts.services.make_password", noted(make_password))  # password change

    changed = change(auth_client, password, NEW_PASSWORD)
    registered = api_client.post(
        "/api/auth/register/", {"username": "newcomer", "password": NEW_PASSWORD}, format="json"
    )

    assert (changed.status_code, registered.status_code) == (204, 201)
    assert hashed_in_a_transaction == [False, False]
    assert User.objects.get(username="newcomer").check_password(NEW_PASSWORD)


def test_an_unknown_field_is_answered_beside_the_other_fields_errors(auth_client, user, password):
    response = auth_client.post(
        "/api/auth/password/", {"old_password": password, "new_password": 42, "x": 1}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"new_password", "x"}
    assert response.json()["x"] == ["Unknown field."]
    assert User.objects.get(pk=user.pk).check_password(password)


def test_an_unknown_field_is_400_and_changes_nothing(auth_client, user, password):
    response = auth_client.post(
        "/api/auth/password/", {"old_password": password, "new_password": NEW_PASSWORD, "x": 1}, format="json"
    )

    assert (response.status_code, response.json()) == (400, {"x": ["Unknown field."]})
    assert User.objects.get(pk=user.pk).check_password(password)


# The admin's own "Change password" page (/admin/password_change/), as a browser posts it.

ADMIN_PAGE = "/admin/password_change/"
ADMIN_THROTTLED = "Too many password attempts: try again in"


@pytest.fixture
def staff_browser(client, user):
    """`user`, made staff, logged in to the admin in a browser."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


def change_in_the_admin(browser, old, new):
    return browser.post(ADMIN_PAGE, {"old_password": old, "new_password1": new, "new_password2": new})


@pytest.fixture
def password_checks(monkeypatch):
    """The passwords checked, in order."""
    checked = []
    check = User.check_password

    def recorded(user, raw_password):
        checked.append(raw_password)
        return check(user, raw_password)

    monkeypatch.setattr(User, "check_password", recorded)
    return checked


def test_guessing_the_old_password_in_the_admin_is_throttled_per_user_with_the_apis_checks(
    staff_browser, auth_client, user, password, password_checks, settings
):
    """Regression (probe F, D2): 40 guesses on the admin's page were all checked."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"password": "3/min"}}
    cache.clear()

    wrong = [change_in_the_admin(staff_browser, f"guess {n}", NEW_PASSWORD) for n in range(3)]
    right = change_in_the_admin(staff_browser, password, NEW_PASSWORD)

    assert all("Your old password was entered incorrectly" in r.content.decode() for r in wrong)
    assert right.status_code == 200  # the form again, the right password not even checked
    assert ADMIN_THROTTLED in right.content.decode()
    assert password_checks == ["guess 0", "guess 1", "guess 2"]
    assert User.objects.get(pk=user.pk).check_password(password)
    assert change(auth_client, password, NEW_PASSWORD).status_code == 429  # one count with the API's


def test_password_guesses_through_the_api_count_on_the_admins_page(
    staff_browser, auth_client, user, password, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"password": "3/min"}}
    cache.clear()
    for n in range(3):
        change(auth_client, f"guess {n}", NEW_PASSWORD)

    response = change_in_the_admin(staff_browser, password, NEW_PASSWORD)

    assert ADMIN_THROTTLED in response.content.decode()
    assert User.objects.get(pk=user.pk).check_password(password)


def test_changing_the_password_in_the_admin_revokes_every_token_and_keeps_that_browser_logged_in(
    staff_browser, auth_client, user, password
):
    _, other_token = AuthToken.objects.create(user=user)
    other_browser = APIClient()
    other_browser.force_login(user)

    response = change_in_the_admin(staff_browser, password, NEW_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/done/"
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert auth_client.get("/api/auth/me/").status_code == 401
    assert token_client(other_token).get("/api/auth/me/").status_code == 401
    assert not AuthToken.objects.owned_by(user).exists()
    assert other_browser.get("/api/auth/me/").status_code == 401
    assert staff_browser.get("/admin/").status_code == 200


def test_an_admin_change_checked_against_a_password_changed_meanwhile_says_so(
    staff_browser, user, password, monkeypatch
):
    from accounts.forms import OwnPasswordChangeForm

    check = OwnPasswordChangeForm.clean_old_password

    def check_then_change(form):
        value = check(form)
        password_change(user=User.objects.get(pk=user.pk), new_password=OTHER_PASSWORD)
        return value

    monkeypatch.setattr(OwnPasswordChangeForm, "clean_old_password", check_then_change)

    response = change_in_the_admin(staff_browser, password, NEW_PASSWORD)

    assert response.status_code == 200  # the form again, not a 500
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert User.objects.get(pk=user.pk).check_password(OTHER_PASSWORD)
