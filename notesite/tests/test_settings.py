"""Settings read from the environment, checked in fresh processes."""

import subprocess
import sys

import pytest

from notesite.tests.servers import BASE_DIR, manage, server_env

REAL_KEY = "k3y-" + "x7Qp9vLm2Rt8" * 5


def run_python(env, code):
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "notesite.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("key", ["too-short", "django-insecure-" + "a1b2c3d4e5" * 6, "a" * 60])
def test_weak_secret_key_is_refused_at_start(tmp_path, key):
    result = run_python(server_env(tmp_path, SECRET_KEY=key), "print('started')")

    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 random characters" in result.stderr


def test_without_secret_key_one_is_generated_once_and_kept(tmp_path):
    env = server_env(tmp_path)
    env.pop("SECRET_KEY", None)

    first = run_python(env, "from django.conf import settings; print(settings.SECRET_KEY)")
    second = run_python(env, "from django.conf import settings; print(settings.SECRET_KEY)")

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_data_folder_holds_the_sqlite_database(tmp_path):
    result = run_python(
        server_env(tmp_path), "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    )

    assert result.stdout.strip() == str(tmp_path / "notes.sqlite3")


def test_check_deploy_is_clean_with_https_and_a_real_key(tmp_path):
    env = server_env(tmp_path, SECRET_KEY=REAL_KEY, NOTES_HTTPS="true", ALLOWED_HOSTS="notes.example.com")

    result = manage(env, "check", "--deploy", "--fail-level", "WARNING", check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


HTTPS_PROBE = """
from django.test import Client
client = Client()
api = client.get('/api/notes/', HTTP_HOST='notes.example.com')
health = client.get('/healthz', HTTP_HOST='notes.example.com')
# What gunicorn hands on from a proxy in FORWARDED_ALLOW_IPS saying X-Forwarded-Proto: https.
proxied = client.get('/', HTTP_HOST='notes.example.com', secure=True)
print(api.status_code, api.get('Location'), health.status_code, proxied.status_code,
      proxied.get('Strict-Transport-Security'))
"""


def test_https_mode_redirects_all_but_health_checks_and_sends_hsts(tmp_path):
    env = server_env(tmp_path, SECRET_KEY=REAL_KEY, NOTES_HTTPS="true", ALLOWED_HOSTS="notes.example.com")

    result = run_python(env, HTTPS_PROBE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "301",
        "https://notes.example.com/api/notes/",
        "200",
        "200",
        "max-age=31536000;",
        "includeSubDomains;",
        "preload",
    ]


def test_https_mode_takes_the_scheme_from_gunicorn_not_from_the_header(tmp_path):
    # gunicorn sets wsgi.url_scheme from X-Forwarded-Proto for FORWARDED_ALLOW_IPS alone; Django must not read it.
    env = server_env(tmp_path, SECRET_KEY=REAL_KEY, NOTES_HTTPS="true", ALLOWED_HOSTS="notes.example.com")

    result = run_python(
        env,
        "from django.test import Client; "
        "print(Client().get('/', HTTP_HOST='notes.example.com', HTTP_X_FORWARDED_PROTO='https').status_code)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "301"


def test_plain_http_works_without_https_mode(tmp_path):
    result = run_python(server_env(tmp_path), HTTPS_PROBE.replace("notes.example.com", "127.0.0.1"))

    assert result.stdout.split()[0] == "401"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("NOTES_MAX_BODY_BYTES", "lots"),
        ("NOTES_TRASH_DAYS", "-5"),
        ("NOTES_REVISIONS_KEPT", "0"),
        ("NOTES_TOKEN_TTL_DAYS", "0"),
        ("NOTES_TOKEN_TTL_DAYS", "3000000"),
    ],
)
def test_malformed_settings_are_refused_with_their_name(tmp_path, name, value):
    result = run_python(server_env(tmp_path, **{name: value}), "print('started')")

    assert result.returncode != 0
    assert name in result.stderr


@pytest.mark.parametrize("key", [None, ""])
def test_postgresql_without_secret_key_is_refused_at_start(tmp_path, key):
    # Each instance generated a key of its own: sessions and page cursors from one failed on the others.
    env = server_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused")
    env.pop("SECRET_KEY")
    if key is not None:
        env["SECRET_KEY"] = key

    result = run_python(env, "print('started')")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is not SQLite" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_postgresql_with_secret_key_uses_it(tmp_path):
    env = server_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused", SECRET_KEY=REAL_KEY)

    result = run_python(env, "from django.conf import settings; print(settings.SECRET_KEY)")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == REAL_KEY


@pytest.mark.parametrize("url", ["mysqll://notes@db/notes", "postgress://notes:hunter2-secret@db:5432/notes"])
def test_database_url_with_an_unknown_scheme_is_refused_at_start(tmp_path, url):
    result = run_python(server_env(tmp_path, DATABASE_URL=url), "print('started')")

    assert result.returncode != 0
    assert "DATABASE_URL must start with postgres:// or sqlite://" in result.stderr
    assert "hunter2-secret" not in result.stderr


@pytest.mark.parametrize(
    "url", ["postgres://notes:hunter2-secret@db:port/notes", "postgres://notes:hunter2-secret@db:99999/notes"]
)
def test_database_url_that_cannot_be_read_is_refused_without_its_password(tmp_path, url):
    result = run_python(server_env(tmp_path, DATABASE_URL=url), "print('started')")

    assert result.returncode != 0
    assert "DATABASE_URL cannot be read as a URL" in result.stderr
    assert "hunter2-secret" not in result.stderr


def test_empty_database_url_is_the_sqlite_default(tmp_path):
    result = run_python(
        server_env(tmp_path, DATABASE_URL=""),
        "from django.conf import settings; print(settings.DATABASES['default']['NAME'])",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "notes.sqlite3")


def test_a_mistake_in_the_environment_is_one_line_from_manage_py(tmp_path):
    result = manage(server_env(tmp_path, DATABASE_URL="mysqll://notes@db/notes"), "check", check=False)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: DATABASE_URL must start with postgres:// or sqlite:// "
        "(e.g. postgres://user:password@host:5432/notes), not mysqll://."
    ]


@pytest.mark.parametrize(("value", "disabled"), [(None, False), ("true", True)])
def test_server_side_cursors_are_off_behind_pgbouncer(tmp_path, value, disabled):
    env = server_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused")
    if value is not None:
        env["NOTES_PGBOUNCER"] = value

    result = run_python(
        env, "from django.conf import settings; print(settings.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(disabled)


@pytest.mark.parametrize("url", ["127.0.0.1:6379/11", "localhost:6379", "nonsense", "redis://a:6379/0,b:6379/0"])
def test_redis_url_without_a_scheme_redis_takes_is_refused_at_start(tmp_path, url):
    result = run_python(server_env(tmp_path, REDIS_URL=url), "print('started')")

    assert result.returncode != 0
    assert "REDIS_URL must start with redis://, rediss:// or unix://" in result.stderr


def test_redis_url_error_never_shows_the_password(tmp_path):
    result = run_python(server_env(tmp_path, REDIS_URL="redis:/:hunter2-secret@cache:6379/0"), "print('started')")

    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
    assert "hunter2-secret" not in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis://:hunter2-secret@cache:abc/0", "Port could not be cast to integer value as 'abc'"),
        ("redis://cache:99999/0", "Port out of range 0-65535"),
        ("redis://cache:6379/0?socket_timeout=soon", "Invalid value for 'socket_timeout' in connection URL."),
        ("unix:///run/redis.sock?db=one", "Invalid value for 'db' in connection URL."),
        ("redis://:hunter2-secret@cache:6379/one", "names a database that is not a number: 'one'"),
        ("redis://cache:6379/0;redis://cache:6379/x", "names a database that is not a number: 'x'"),
    ],
)
def test_redis_url_redis_cannot_read_is_refused_at_start(tmp_path, url, reason):
    # These passed the start and every check, then answered 500 (or used database 0) at the first request.
    result = run_python(server_env(tmp_path, REDIS_URL=url), "print('started')")

    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
    assert reason in result.stderr
    assert "hunter2-secret" not in result.stderr


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/14", "rediss://cache:6380/0", "unix:///run/redis.sock?db=1"])
def test_redis_urls_with_a_scheme_redis_takes_are_accepted(tmp_path, url):
    result = run_python(
        server_env(tmp_path, REDIS_URL=url),
        "from django.conf import settings; print(settings.CACHES['default']['LOCATION'])",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == url


@pytest.mark.parametrize("value", ["0", "-5", str(10**20)])
def test_search_window_outside_its_range_is_refused_at_start(tmp_path, value):
    result = run_python(server_env(tmp_path, NOTES_SEARCH_WINDOW=value), "print('started')")

    assert result.returncode != 0
    assert f"NOTES_SEARCH_WINDOW must be from 1 to 1000000000, not {value}." in result.stderr


@pytest.mark.parametrize("value", ["", " , "])
def test_empty_allowed_hosts_is_refused_at_start_with_debug_off(tmp_path, value):
    result = run_python(server_env(tmp_path, ALLOWED_HOSTS=value), "print('started')")

    assert result.returncode != 0
    assert "ALLOWED_HOSTS is set but names no host" in result.stderr


def test_empty_allowed_hosts_is_accepted_with_debug_on(tmp_path):
    result = run_python(
        server_env(tmp_path, ALLOWED_HOSTS="", DEBUG="true"),
        "from django.conf import settings; print(settings.ALLOWED_HOSTS)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("https://notes.example.com", "https://notes.example.com"),
        ("notes.example.com/", "notes.example.com/"),
        ("notes.example.com:8443", "notes.example.com:8443"),
        ("localhost,notes.example.com/notes", "notes.example.com/notes"),
        ("::1", "::1"),
        ("*.example.com", "*.example.com"),
        ("notes.example.com.", "notes.example.com."),
    ],
)
def test_allowed_hosts_no_request_can_match_is_refused_at_start(tmp_path, value, bad):
    # Such a host started fine, then every request answered 400 while the health checks said ok.
    result = run_python(server_env(tmp_path, ALLOWED_HOSTS=value), "print('started')")

    assert result.returncode != 0
    assert "ALLOWED_HOSTS lists host names as a request names them" in result.stderr
    assert f"not {bad!r}." in result.stderr


def test_allowed_hosts_in_every_form_django_matches_are_accepted(tmp_path):
    hosts = "notes.example.com,.example.org,Notes.Example.NET,127.0.0.1,[::1],*"

    result = run_python(
        server_env(tmp_path, ALLOWED_HOSTS=hosts),
        "from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == hosts


def test_unset_allowed_hosts_is_the_local_addresses(tmp_path):
    result = run_python(
        server_env(tmp_path), "from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "127.0.0.1,localhost,[::1]"


@pytest.mark.parametrize("value", ["OFF", "EXTRA", "2", "FULL;PRAGMA foreign_keys=OFF"])
def test_sqlite_synchronous_other_than_full_or_normal_is_refused_at_start(tmp_path, value):
    result = run_python(server_env(tmp_path, NOTES_SQLITE_SYNCHRONOUS=value), "print('started')")

    assert result.returncode != 0
    assert "NOTES_SQLITE_SYNCHRONOUS must be FULL or NORMAL" in result.stderr


SYNCHRONOUS_PROBE = (
    "from django.db import connection; print(connection.cursor().execute('PRAGMA synchronous').fetchone()[0])"
)


@pytest.mark.parametrize(("value", "level"), [(None, "2"), ("FULL", "2"), ("normal", "1")])
def test_sqlite_synchronous_full_or_normal_is_applied(tmp_path, value, level):
    env = server_env(tmp_path)
    if value is not None:
        env["NOTES_SQLITE_SYNCHRONOUS"] = value

    result = run_python(env, SYNCHRONOUS_PROBE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == level


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        ("x", {}, "N must be an integer, not 'x'."),
        ("-1", {"minimum": 0}, "N must be at least 0, not -1."),
        ("70000", {"maximum": 65535}, "N must be at most 65535, not 70000."),
        ("70000", {"minimum": 0, "maximum": 65535}, "N must be from 0 to 65535, not 70000."),
        ("-1", {"minimum": 0, "maximum": 65535}, "N must be from 0 to 65535, not -1."),
    ],
)
def test_a_number_from_the_environment_is_refused_naming_it(monkeypatch, value, bounds, message):
    from django.core.exceptions import ImproperlyConfigured

    from notesite.environment import env_int

    monkeypatch.setenv("N", value)

    with pytest.raises(ImproperlyConfigured) as refused:
        env_int("N", 1, **bounds)

    assert str(refused.value) == message


def test_a_number_within_its_bounds_or_unset_is_read(monkeypatch):
    from notesite.environment import env_int

    monkeypatch.setenv("N", "65535")

    assert env_int("N", 1, minimum=0, maximum=65535) == 65535
    assert env_int("UNSET_IN_THIS_TEST", 7, maximum=10) == 7
