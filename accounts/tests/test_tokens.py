"""A user's tokens: listed without their secret, revoked one by one, purged once expired."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthToken

pytestmark = pytest.mark.django_db


def token_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def tokens(user):
    """Three live tokens of `user` (a phone, a laptop, a script), oldest first."""
    return [AuthToken.objects.create(user=user) for _ in range(3)]


def test_list_shows_the_users_live_tokens_newest_first_and_marks_the_current_one(user, tokens):
    (phone, _), (laptop, laptop_secret), (script, _) = tokens

    response = token_client(laptop_secret).get("/api/auth/tokens/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [item["id"] for item in body["results"]] == [script.pk, laptop.pk, phone.pk]
    assert [item["current"] for item in body["results"]] == [False, True, False]
    assert body["results"][1] == {
        "id": laptop.pk,
        "created": laptop.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "expires_at": laptop.expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "current": True,
    }


def test_list_never_shows_a_secret_or_digest(user, tokens):
    (_, secret), *_ = tokens

    response = token_client(secret).get("/api/auth/tokens/")

    text = response.content.decode()
    for token, raw in tokens:
        assert raw not in text
        assert token.digest not in text
        assert token.token_key not in text
    assert all(set(item) == {"id", "created", "expires_at", "current"} for item in response.json()["results"])


def test_list_leaves_out_expired_tokens_and_other_users_tokens(user, other_user):
    current, secret = AuthToken.objects.create(user=user)
    AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    AuthToken.objects.create(user=other_user)

    results = token_client(secret).get("/api/auth/tokens/").json()["results"]

    assert [item["id"] for item in results] == [current.pk]


def test_list_pages_with_the_usual_envelope(user, tokens, auth_client):
    first = auth_client.get("/api/auth/tokens/?limit=2").json()
    second = auth_client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert len(second["results"]) == 2
    assert second["next"] is None
    ids = [item["id"] for item in first["results"] + second["results"]]
    assert sorted(ids) == sorted(AuthToken.objects.owned_by(user).values_list("pk", flat=True))


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "cursor=forged"])
def test_list_refuses_bad_paging_parameters(auth_client, query):
    response = auth_client.get(f"/api/auth/tokens/?{query}")

    assert response.status_code == 400


def test_list_costs_fixed_queries(user, tokens, auth_client, django_assert_num_queries):
    with django_assert_num_queries(2):  # the requesting token with its user, then the page
        response = auth_client.get("/api/auth/tokens/")

    assert len(response.json()["results"]) == 4


def test_list_from_a_browser_session_has_no_current_token(api_client, user, tokens):
    api_client.force_login(user)

    results = api_client.get("/api/auth/tokens/").json()["results"]

    assert len(results) == 3
    assert not any(item["current"] for item in results)


def test_tokens_require_authentication(api_client, tokens):
    assert api_client.get("/api/auth/tokens/").status_code == 401
    assert api_client.delete(f"/api/auth/tokens/{tokens[0][0].pk}/").status_code == 401
    assert AuthToken.objects.count() == 3


def test_revoking_a_token_cuts_off_that_device_only(user, tokens):
    (phone, phone_secret), (_, laptop_secret), _ = tokens
    laptop = token_client(laptop_secret)

    response = laptop.delete(f"/api/auth/tokens/{phone.pk}/")

    assert response.status_code == 204
    assert not AuthToken.objects.filter(pk=phone.pk).exists()
    assert token_client(phone_secret).get("/api/auth/me/").status_code == 401
    assert laptop.get("/api/auth/me/").status_code == 200


def test_revoking_the_current_token_logs_out(tokens):
    (token, secret), *_ = tokens
    client = token_client(secret)

    assert client.delete(f"/api/auth/tokens/{token.pk}").status_code == 204

    assert client.get("/api/auth/me/").status_code == 401


def test_another_users_token_is_404_like_a_missing_one(auth_client, other_user):
    others, others_secret = AuthToken.objects.create(user=other_user)

    response = auth_client.delete(f"/api/auth/tokens/{others.pk}/")
    missing = auth_client.delete("/api/auth/tokens/999999999/")

    assert response.status_code == 404
    assert response.json() == missing.json()
    assert AuthToken.objects.filter(pk=others.pk).exists()
    assert token_client(others_secret).get("/api/auth/me/").status_code == 200


@pytest.mark.parametrize("token_id", ["abc", "-1", "1.5", "99999999999999999999999999"])
def test_a_malformed_or_huge_token_id_is_404(auth_client, token_id):
    response = auth_client.delete(f"/api/auth/tokens/{token_id}/")

    assert response.status_code == 404


def test_an_expired_token_cannot_be_revoked_again(auth_client, user):
    expired, _ = AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))

    assert auth_client.delete(f"/api/auth/tokens/{expired.pk}/").status_code == 404


def test_revoking_costs_fixed_queries(user, tokens, auth_client, django_assert_num_queries):
    with django_assert_num_queries(3):  # the requesting token, the token to revoke, its deletion
        auth_client.delete(f"/api/auth/tokens/{tokens[0][0].pk}/")


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_tokens_cannot_be_made_or_changed_here(auth_client, tokens, method):
    response = getattr(auth_client, method)(f"/api/auth/tokens/{tokens[0][0].pk}/", {}, format="json")

    assert response.status_code == 405


def test_login_purges_the_users_expired_tokens(api_client, user, other_user, password):
    AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    others_expired, _ = AuthToken.objects.create(user=other_user, expiry=timedelta(seconds=-1))
    live, _ = AuthToken.objects.create(user=user)

    api_client.post("/api/auth/token/", {"username": user.username, "password": password}, format="json")

    assert AuthToken.objects.owned_by(user).count() == 2
    assert AuthToken.objects.filter(pk=live.pk).exists()
    assert AuthToken.objects.filter(pk=others_expired.pk).exists()


def test_purge_tokens_deletes_only_expired_tokens_in_batches(user, other_user):
    for owner in (user, other_user):
        for _ in range(3):
            AuthToken.objects.create(user=owner, expiry=timedelta(seconds=-1))
    live = [AuthToken.objects.create(user=user)[0], AuthToken.objects.create(user=user, expiry=None)[0]]
    out = StringIO()

    call_command("purge_tokens", batch_size=4, stdout=out)

    assert out.getvalue().strip() == "Purged 6 expired token(s)."
    assert set(AuthToken.objects.all()) == set(live)


@pytest.mark.parametrize("batch_size", [10_001, 99_999_999_999_999_999_999])
def test_purge_tokens_refuses_a_batch_larger_than_a_statement_takes(user, batch_size):
    AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))

    with pytest.raises(CommandError, match="--batch-size must be at most 10000"):
        call_command("purge_tokens", batch_size=batch_size, stdout=StringIO())

    assert AuthToken.objects.count() == 1


def test_purge_tokens_is_safe_to_run_again(user):
    AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    call_command("purge_tokens", stdout=StringIO())
    out = StringIO()

    call_command("purge_tokens", stdout=out)

    assert out.getvalue().strip() == "Purged 0 expired token(s)."


def test_purge_tokens_refuses_a_zero_batch(db):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_tokens", batch_size=0, stdout=StringIO())


def test_a_token_expiring_now_counts_as_expired(user):
    token, _ = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now())

    assert not AuthToken.objects.live().filter(pk=token.pk).exists()
    assert AuthToken.objects.expired().filter(pk=token.pk).exists()
