"""The project's settings with Django's own SQLite backend, for bench/writers.py."""

from notesite.settings import *  # noqa: F403
from notesite.settings import DATABASES

DATABASES["default"]["ENGINE"] = "django.db.backends.sqlite3"
