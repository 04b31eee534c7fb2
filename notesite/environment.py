"""Readers of environment variables that refuse a malformed value in one line, naming it.

Shared by the settings and the gunicorn configuration, which gunicorn's
master reads without Django's settings.
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name, default, minimum=None, maximum=None):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None
    too_small, too_large = minimum is not None and number < minimum, maximum is not None and number > maximum
    if too_small or too_large:
        if minimum is not None and maximum is not None:
            raise ImproperlyConfigured(f"{name} must be from {minimum} to {maximum}, not {number}.")
        bound = f"at least {minimum}" if too_small else f"at most {maximum}"
        raise ImproperlyConfigured(f"{name} must be {bound}, not {number}.")
    return number


def env_list(name, default=()):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def exit_if_misconfigured():
    """Read the settings now: a mistake in the environment ends the process with its message alone.

    Django would print a traceback around it (per worker, under gunicorn),
    where an operator looks for the one line that says what to fix.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notesite.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 (reading one setting reads them all)
    except ImproperlyConfigured as error:
        sys.exit(f"Error: {error}")
