"""Health checks for load balancers and orchestrators.

They are answered by a middleware placed before host validation, sessions
and request logging, and exempt from the HTTPS redirect: probes come over
plain HTTP to an address, with whatever Host header, many times a minute.
Only HeadMiddleware (which drops a HEAD's body) and the middleware that add
the security headers every answer carries (docs/security.md) come before
it; none of them reads the Host header.
"""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

_migrations_applied = False


def healthz():
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def readyz():
    """The database answers and every migration is applied; 503 otherwise."""
    global _migrations_applied
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrations_applied:
            # Loading the migration graph is costly; once applied, they stay so.
            executor = MigrationExecutor(connection)
            _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "reason": f"database: {exc}"}, status=503)
    if not _migrations_applied:
        return JsonResponse({"status": "unavailable", "reason": "migrations are not applied"}, status=503)
    return JsonResponse({"status": "ok"})


CHECKS = {"/healthz": healthz, "/healthz/": healthz, "/readyz": readyz, "/readyz/": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        check = CHECKS.get(request.path_info)
        if check is not None and request.method in {"GET", "HEAD"}:
            return check()
        return self.get_response(request)
