"""Schemathesis fuzzes every operation of the live schema (`/api/schema/`), authenticated.

Cases are generated from the schema the server publishes, both valid ones
(positive) and ones that break it (negative), and sent to the whole Django
application (every middleware, DRF, the suite's database) with a real token.
Every built-in check of schemathesis runs on each response: no 5xx; status
codes, content types, headers and bodies as documented; schema-invalid
input refused; authentication not ignored; undocumented methods answered
405 with `Allow`. A new endpoint is fuzzed as soon as it is in the schema.

One check is left out, `positive_data_acceptance` (every schema-valid
request must succeed), because the schema deliberately does not say
everything the server refuses: text with a NUL character or an unpaired
surrogate (refused in every field, SPEC section 3), cursors (opaque: only the
server's own are valid), unknown body fields (refused by name, while the
schema does not forbid extra properties, so that a client may PUT back the
read-only fields it GOT) and wrong passwords. And negative cases whose
strings carry surrounding whitespace are left out: the server trims before
it checks lengths, so padding does not make a string too long; so are those
made negative only by an unknown query parameter, which the server ignores.
"""

import math
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from accounts.models import AuthToken
from notes.tests.factories import NoteFactory
from notesite.wsgi import application

# At least this many cases over the whole schema, shared out among operations
# (NOTES_FUZZ_CASES=20000 for a longer hunt).
MIN_CASES = int(os.environ.get("NOTES_FUZZ_CASES", "2000"))

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                # A stale If-Match is judged before the body (RFC 9110, 13.2.2):
                # 412 refuses an invalid body as surely as 400 does.
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 428, 429],
            }
        }
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
CASES_PER_OPERATION = math.ceil(MIN_CASES / len(OPERATIONS))
cases_run = {}


def excluded_checks(case):
    """Checks not run on this case (see the module's docstring).

    Negative data is judged only where the wire can carry it: form and
    multipart bodies have no types, so a "tags" that schemathesis made a
    string instead of an array is, on the wire, the same field either way.
    Nor on an import's dry run, which answers 200 with the report of what it
    would reject (SPEC 3, "Export and import").
    """
    dry_run = case.path == "/api/import/" and str((case.query or {}).get("dry_run")).lower() == "true"
    if case.media_type in (None, "application/json") and not dry_run:
        return [positive_data_acceptance]
    return [positive_data_acceptance, negative_data_rejection]


def padded_strings(body):
    """Whether a body holds a string with surrounding whitespace.

    The server trims titles, tags and names before it checks their length
    (README): a negative case made "too long" by padding is fine to the
    server, so such cases are left out of the negative ones.
    """
    if isinstance(body, str):
        return body != body.strip()
    if isinstance(body, dict):
        return any(padded_strings(value) for value in body.values())
    if isinstance(body, list):
        return any(padded_strings(value) for value in body)
    return False


@pytest.fixture
def fuzz_settings(settings):
    # Generous limits, so cases reach the code behind the throttles (429 is
    # documented, and the throttles have tests of their own).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "100000/min", "register": "100000/min", "password": "100000/min"},
    }
    settings.NOTES_ALLOW_SIGNUP = True
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_answers_as_documented_to_generated_input(operation, user, fuzz_settings, wsgi_application):
    note = NoteFactory(owner=user, tags=["fuzz"])
    known_query = {parameter.name for parameter in operation.query}
    modes = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

    @given(case=modes.flatmap(operation.as_strategy), existing=st.booleans())
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def send(case, existing):
        assume(not (case.meta.generation.mode.is_negative and padded_strings([case.body, case.query])))
        # Unknown query parameters are ignored, not refused (a cache-buster
        # must not break a client), so a case made negative by one is not.
        assume(not (case.meta.generation.mode.is_negative and set(case.query or {}) - known_query))
        if existing and "id" in (case.path_parameters or {}):
            # Half the cases aim at a note (or token) that exists.
            case.path_parameters["id"] = note.pk
        # A fresh token each time: a case may log out or revoke it.
        _, token = AuthToken.objects.create(user=user)
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, excluded_checks=excluded_checks(case))
        cases_run[operation.label] = cases_run.get(operation.label, 0) + 1

    send()

    assert cases_run[operation.label] > 0


def test_the_fuzzing_ran_enough_cases():
    """Counted over the whole run: the operations above together sent MIN_CASES or more."""
    if set(cases_run) != {operation.label for operation in OPERATIONS}:
        pytest.skip("runs only after every operation above has been fuzzed")
    total = sum(cases_run.values())
    print(f"\nschemathesis: {total} cases over {len(OPERATIONS)} operations: {cases_run}")
    assert total >= 1000
