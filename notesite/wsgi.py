"""WSGI entry point: gunicorn serves `notesite.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

from notesite.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notesite.settings")


def build_application():
    """Django's WSGI handler, with the middleware the settings name, taking chunked bodies from gunicorn."""
    return ChunkedBodies(get_wsgi_application())


application = build_application()
