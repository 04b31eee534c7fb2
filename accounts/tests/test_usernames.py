"""Usernames are one name in every case, in every script, on both databases."""

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from accounts.models import User, fold_username
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signup(settings):
    settings.NOTES_ALLOW_SIGNUP = True


def register(client, username, password):
    return client.post("/api/auth/register/", {"username": username, "password": password}, format="json")


def login(client, username, password):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


@pytest.mark.parametrize(
    ("one", "other"),
    [("alice", "ALICE"), ("Ärger", "ärger"), ("ÉTÉ", "été"), ("Straße", "STRASSE"), ("Σίσυφος", "ΣΊΣΥΦΟΣ")],
)
def test_registration_refuses_a_non_ascii_name_differing_only_in_case(api_client, signup, password, one, other):
    UserFactory(username=one)

    response = register(api_client, other, password)

    assert response.status_code == 400
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


def test_the_database_refuses_a_name_differing_only_in_case_whatever_the_path(db):
    User.objects.create_user("Ärger")

    with pytest.raises(IntegrityError):
        User.objects.create_user("ärger")


def test_login_in_another_case_reaches_the_same_account_and_no_other(api_client, password):
    arger = UserFactory(username="Ärger")
    UserFactory(username="Ärgerlich")

    response = login(api_client, "ÄRGER", password)

    assert response.status_code == 200
    assert response.json()["user"] == {"id": arger.pk, "username": "Ärger"}


def test_login_in_another_case_with_a_wrong_password_is_the_usual_400(api_client, password):
    UserFactory(username="Ärger")

    response = login(api_client, "ärger", "not the password")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_admin_login_finds_the_user_in_any_case(password):
    arger = UserFactory(username="Ärger")

    assert authenticate(username="äRGER", password=password) == arger


def test_renaming_keeps_the_folded_name_in_step():
    user = UserFactory(username="Ärger")
    user.username = "Freude"
    user.save(update_fields=["username"])

    user.refresh_from_db()
    assert user.username_key == "freude"
    assert User.objects.with_username("FREUDE").get() == user
    assert not User.objects.with_username("ärger").exists()


def test_admin_form_validation_refuses_a_name_differing_only_in_case():
    UserFactory(username="Ärger")
    candidate = User(username="ärger")

    with pytest.raises(ValidationError) as excinfo:
        candidate.full_clean(exclude=["password"])

    assert excinfo.value.message_dict["username"] == ["A user with that username already exists."]


def test_an_exact_duplicate_is_reported_once():
    UserFactory(username="alice")

    with pytest.raises(ValidationError) as excinfo:
        User(username="alice").full_clean(exclude=["password"])

    assert excinfo.value.message_dict["username"] == ["A user with that username already exists."]


def test_a_user_may_keep_their_own_name():
    user = UserFactory(username="Ärger")

    user.full_clean(exclude=["password"])


@pytest.mark.parametrize(
    ("name", "folded"),
    [("Alice", "alice"), ("Ärger", "ärger"), ("Straße", "strasse"), ("ﬁsh", "fish"), ("ΣΊΣΥΦΟΣ", "σίσυφοσ")],
)
def test_fold_username(name, folded):
    assert fold_username(name) == folded
