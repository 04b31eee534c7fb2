"""Create the database cache table, so `migrate` is the only setup step.

The cache holds throttle counts shared by every worker. With REDIS_URL set
there is no database cache and createcachetable does nothing.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=True)]
