"""Health checks for load balancers and orchestrators (no authentication)."""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

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
            executor = MigrationExecutor(connection)
            _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "reason": f"database: {exc}"}, status=503)
    if not _migrations_applied:
        return JsonResponse({"status": "unavailable", "reason": "migrations are not applied"}, status=503)
    return JsonResponse({"status": "ok"})
