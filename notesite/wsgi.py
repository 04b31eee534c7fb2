"""WSGI entry point: gunicorn serves `notesite.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

from notesite.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notesite.settings")

application = ChunkedBodies(get_wsgi_application())
