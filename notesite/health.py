"""Health checks for load balancers and orchestrators.

They are answered by a middleware placed before host validation, sessions
and request logging, and exempt from the HTTPS redirect: probes come over
plain HTTP to an address, with whatever Host header, many times a minute.
Only HeadMiddleware (which drops a HEAD's body) and the middleware that add
the security headers every answer carries (docs/security.md) come before
it; none of them reads the Host header.
"""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from rest_framework.exceptions import MethodNotAllowed

from notesite.database import log_unavailable, migrations_applied

_migrations_applied = False


def healthz(request):
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """The database answers and every migration is applied; 503 otherwise."""
    global _migrations_applied
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrations_applied:
            # Loading the migration graph is costly; once applied, they stay so.
            _migrations_applied = migrations_applied()
    except DatabaseError as exc:
        # The driver's words (a host, a port, a database's name) are for the log: the check is public.
        response = JsonResponse({"status": "unavailable", "reason": "database unavailable"}, status=503)
        return log_unavailable(request, exc, response)
    if not _migrations_applied:
        return JsonResponse({"status": "unavailable", "reason": "migrations are not applied"}, status=503)
    return JsonResponse({"status": "ok"})


CHECKS = {"/healthz": healthz, "/healthz/": healthz, "/readyz": readyz, "/readyz/": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        check = CHECKS.get(request.path_info)
        if check is None:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            # As the API's 405s: the site's HTML 404 told a probe sent with the wrong method nothing.
            response = JsonResponse({"detail": MethodNotAllowed(request.method).detail}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return check(request)
