"""The project's settings, with bench/floor/urls.py's routes in front of its own (bench/floor.py)."""

from notesite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor.urls"
