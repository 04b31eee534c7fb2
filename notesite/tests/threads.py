"""Work run beside a test, on a database connection of its own."""

import threading

from django.db import connection


def in_thread(function, results=None, name=None):
    """Run `function` in a started thread on its own database connection; returns the thread.

    With `results`, what it returns, or the exception it raises, lands in
    results[name]: a deadlock is then seen by the test rather than lost in
    the thread.
    """

    def run():
        try:
            outcome = function()
        except Exception as error:
            if results is None:
                raise
            outcome = error
        finally:
            connection.close()
        if results is not None:
            results[name] = outcome

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
