"""Staff see each user's tokens, revoke them, and delete accounts as the API does."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuthToken, User
from accounts.tests.factories import UserFactory
from notes.models import Note, PublicLink, Revision, StoredFile
from notes.services import note_update
from notes.sharing.services import public_link_create
from notes.tests.admin_helpers import posted_fields
from notes.tests.attachment_helpers import PNG, stored_files, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def test_a_users_page_lists_their_tokens_with_created_and_expiry(admin_client, user):
    live, _ = AuthToken.objects.create(user=user)
    expired, _ = AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))

    response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0]
    assert [form.original for form in formset] == [expired, live]
    page = response.content.decode()
    assert "API tokens" in page
    assert "Expiry" in page
    assert live.digest not in page


def test_ticking_delete_on_the_users_page_revokes_that_token(admin_client, user):
    (phone, phone_secret), (laptop, _) = AuthToken.objects.create(user=user), AuthToken.objects.create(user=user)
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "groups": [],
            "user_permissions": [],
            "auth_token_set-TOTAL_FORMS": "2",
            "auth_token_set-INITIAL_FORMS": "2",
            "auth_token_set-0-id": str(laptop.pk),
            "auth_token_set-0-user": str(user.pk),
            "auth_token_set-1-id": str(phone.pk),
            "auth_token_set-1-user": str(user.pk),
            "auth_token_set-1-DELETE": "on",
        }
    )
    data.pop("last_login", None)

    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert list(AuthToken.objects.owned_by(user)) == [laptop]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {phone_secret}")
    assert client.get("/api/auth/me/").status_code == 401


def test_the_token_list_shows_live_and_expired_tokens_and_filters_them(admin_client, user):
    live, _ = AuthToken.objects.create(user=user)
    expired, _ = AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))

    everything = admin_client.get("/admin/accounts/authtoken/")
    only_live = admin_client.get("/admin/accounts/authtoken/?state=live")
    only_expired = admin_client.get("/admin/accounts/authtoken/?state=expired")

    assert everything.status_code == 200
    assert set(everything.context["cl"].result_list) == {live, expired}
    assert list(only_live.context["cl"].result_list) == [live]
    assert list(only_expired.context["cl"].result_list) == [expired]


def test_staff_revoke_tokens_with_the_bulk_action(admin_client, user, other_user):
    mine, _ = AuthToken.objects.create(user=user)
    kept, _ = AuthToken.objects.create(user=other_user)

    response = admin_client.post(
        "/admin/accounts/authtoken/", {"action": "revoke", "_selected_action": [mine.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Revoked 1 token(s)." in response.content.decode()
    assert list(AuthToken.objects.all()) == [kept]


def test_tokens_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get("/admin/accounts/authtoken/add/").status_code == 403


def test_deleting_a_user_in_the_admin_deletes_everything_as_the_api_does(admin_client, user):
    NoteFactory(owner=user)
    token, _ = AuthToken.objects.create(user=user)
    browser = APIClient()
    browser.force_login(user)

    confirmation = admin_client.get(f"/admin/accounts/user/{user.pk}/delete/")
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})

    assert f"API token {token.pk}" in confirmation.content.decode()
    assert token.digest not in confirmation.content.decode()
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Note.objects.filter(owner_id=user.pk).exists()
    assert not AuthToken.objects.filter(user_id=user.pk).exists()
    assert browser.get("/api/auth/me/").status_code == 401


def test_deleting_users_in_bulk_goes_through_the_same_function(admin_client, monkeypatch):
    users = UserFactory.create_batch(2)
    deleted = []
    monkeypatch.setattr("accounts.admin.user_delete", lambda *, user: deleted.append(user.pk) or user.delete())

    admin_client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [u.pk for u in users], "post": "yes"},
    )

    assert sorted(deleted) == sorted(u.pk for u in users)
    assert not User.objects.filter(pk__in=deleted).exists()


def give_one_of_everything(user, token_client):
    """An edited note (so a revision) with an attachment and a public link, the token, a browser session."""
    note = NoteFactory(owner=user)
    note_update(note=note, title="edited")
    upload(token_client, note, PNG, "dot.png")
    public_link_create(note=note)
    browser = APIClient()
    browser.force_login(user)
    return browser


def test_staff_delete_a_user_who_owns_revisions_attachments_links_and_tokens(
    admin_client, user, auth_client, other_user, other_client, attachments_dir, django_capture_on_commit_callbacks
):
    """Regression (probe F, D1): revisions are never deleted by hand in the admin, yet go with their user."""
    browser = give_one_of_everything(user, auth_client)
    give_one_of_everything(other_user, other_client)
    url = f"/admin/accounts/user/{user.pk}/delete/"

    confirmation = admin_client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, posted_fields(confirmation))

    assert confirmation.context["perms_lacking"] == set()
    assert "Are you sure" in confirmation.content.decode()
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Revision.objects.filter(note__owner_id=user.pk).exists()
    assert PublicLink.objects.get().note.owner == other_user
    # What only accounts.services.user_delete does: the files go after the commit, and the sessions.
    assert list(StoredFile.objects.values_list("owner_id", flat=True)) == [other_user.pk]
    assert len(stored_files(attachments_dir)) == 1
    assert auth_client.get("/api/auth/me/").status_code == 401
    assert browser.get("/api/auth/me/").status_code == 401
    assert other_client.get("/api/auth/me/").status_code == 200


def test_staff_delete_users_who_own_revisions_attachments_links_and_tokens_in_bulk(
    admin_client, user, auth_client, other_user, other_client, attachments_dir, django_capture_on_commit_callbacks
):
    browsers = [give_one_of_everything(user, auth_client), give_one_of_everything(other_user, other_client)]
    selected = [user.pk, other_user.pk]

    confirmation = admin_client.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": selected}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/accounts/user/", posted_fields(confirmation))

    assert confirmation.context["perms_lacking"] == set()
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=selected).exists()
    assert not Note.objects.exists()
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []
    assert [client.get("/api/auth/me/").status_code for client in [auth_client, other_client, *browsers]] == [401] * 4


def staff_client(*codenames):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def test_staff_who_may_delete_users_need_no_permission_on_what_a_user_owns(user, auth_client):
    give_one_of_everything(user, auth_client)
    staff = staff_client("view_user", "delete_user")
    url = f"/admin/accounts/user/{user.pk}/delete/"

    response = staff.post(url, posted_fields(staff.get(url)))

    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()


def test_staff_who_may_not_delete_users_still_cannot(user, auth_client):
    give_one_of_everything(user, auth_client)
    staff = staff_client("view_user", "change_user")

    single = staff.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})
    bulk = staff.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}
    )

    assert single.status_code == 403
    assert bulk.status_code == 200  # the list again: the action is not offered to them
    assert User.objects.filter(pk=user.pk).exists()


def test_only_a_superuser_may_delete_a_superuser(user, auth_client):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    NoteFactory(owner=superuser)
    staff = staff_client("view_user", "delete_user")

    single = staff.post(f"/admin/accounts/user/{superuser.pk}/delete/", {"post": "yes"})
    confirmation = staff.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [superuser.pk, user.pk]}
    )
    bulk = staff.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [superuser.pk, user.pk], "post": "yes"},
    )

    assert single.status_code == 403
    assert confirmation.context["perms_lacking"] == {"user"}
    assert bulk.status_code == 403
    assert User.objects.filter(pk__in=[superuser.pk, user.pk]).count() == 2
    assert Note.objects.filter(owner=superuser).exists()


def test_the_admins_add_user_form_refuses_a_name_differing_only_in_case(admin_client):
    UserFactory(username="Ärger")

    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "ärger",
            "password1": "a long passphrase",
            "password2": "a long passphrase",
            "usable_password": "true",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["username"] == ["A user with that username already exists."]
    assert User.objects.count() == 2  # Ärger and the admin


@pytest.mark.parametrize(
    "form",
    [
        {"usable_password": "true", "password1": "n3w-Secret-phrase", "password2": "n3w-Secret-phrase"},
        {"usable_password": "false", "unset-password": "Disable password-based authentication"},
    ],
)
def test_setting_a_password_in_the_admin_revokes_the_users_tokens(admin_client, user, other_user, form):
    _, token = AuthToken.objects.create(user=user)
    _, others = AuthToken.objects.create(user=other_user)

    response = admin_client.post(f"/admin/accounts/user/{user.pk}/password/", form)

    assert response.status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/auth/me/").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Token {others}").get("/api/auth/me/").status_code == 200
    user.refresh_from_db()
    assert user.has_usable_password() is (form["usable_password"] == "true")


def test_staff_may_not_set_a_superusers_or_another_staff_members_password(user):
    superuser = UserFactory(is_staff=True, is_superuser=True, password="the-superusers-own-password")
    colleague = UserFactory(is_staff=True, password="the-colleagues-own-password")
    staff = staff_client("view_user", "change_user")
    form = {"password1": "Taken-over-1234567", "password2": "Taken-over-1234567", "usable_password": "true"}

    for target, old_password in [
        (superuser, "the-superusers-own-password"),
        (colleague, "the-colleagues-own-password"),
    ]:
        page = staff.get(f"/admin/accounts/user/{target.pk}/password/")
        posted = staff.post(f"/admin/accounts/user/{target.pk}/password/", form)
        changed = staff.post(f"/admin/accounts/user/{target.pk}/change/", {"username": "renamed"})

        assert (page.status_code, posted.status_code, changed.status_code) == (403, 403, 403)
        target.refresh_from_db()
        assert target.check_password(old_password)
        assert target.username != "renamed"


def test_staff_see_a_superusers_page_read_only(user):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    staff = staff_client("view_user", "change_user")

    page = staff.get(f"/admin/accounts/user/{superuser.pk}/change/")

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


def test_staff_may_change_an_ordinary_user_but_not_grant_privileges(user):
    staff = staff_client("view_user", "change_user")
    url = f"/admin/accounts/user/{user.pk}/change/"
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    form = {"username": "renamed", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    form |= {"is_staff": "on", "is_superuser": "on", "user_permissions": every_permission}
    form |= {"tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0"}

    response = staff.post(url, form)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    user.refresh_from_db()
    assert user.username == "renamed"
    assert (user.is_staff, user.is_superuser, user.user_permissions.count()) == (False, False, 0)


def test_staff_may_not_delete_another_staff_member(user):
    colleague = UserFactory(is_staff=True)
    staff = staff_client("view_user", "delete_user")

    single = staff.post(f"/admin/accounts/user/{colleague.pk}/delete/", {"post": "yes"})
    bulk = staff.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [colleague.pk, user.pk], "post": "yes"},
    )

    assert (single.status_code, bulk.status_code) == (403, 403)
    assert User.objects.filter(pk__in=[colleague.pk, user.pk]).count() == 2


def test_staff_may_not_grant_permissions_through_a_group():
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="editors")
    staff = staff_client("view_user", "change_user")
    me = User.objects.get(pk=staff.session["_auth_user_id"])
    me.user_permissions.add(*Permission.objects.filter(codename__in=["view_group", "change_group", "add_group"]))
    me.groups.add(group)
    every_permission = list(Permission.objects.values_list("pk", flat=True))

    changed = staff.post(f"/admin/auth/group/{group.pk}/change/", {"name": "editors", "permissions": every_permission})
    added = staff.post("/admin/auth/group/add/", {"name": "admins", "permissions": every_permission})

    assert (changed.status_code, added.status_code) == (302, 302)
    assert group.permissions.count() == 0
    assert Group.objects.get(name="admins").permissions.count() == 0
    assert not User.objects.get(pk=me.pk).has_perm("accounts.add_user")


def test_staff_may_not_grant_themselves_privileges():
    staff = staff_client("view_user", "change_user")
    me = User.objects.get(pk=staff.session["_auth_user_id"])
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    form = {"username": me.username, "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    form |= {"is_staff": "on", "is_superuser": "on", "user_permissions": every_permission}
    form |= {"tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0"}

    response = staff.post(f"/admin/accounts/user/{me.pk}/change/", form)

    assert response.status_code == 302
    me.refresh_from_db()
    assert (me.is_superuser, me.user_permissions.count()) == (False, 2)
