"""Fixtures the notes tests share; a module that needs another note defines its own `note`."""

import pytest

from notes.tests.attachment_helpers import PNG, upload
from notes.tests.factories import NoteFactory


@pytest.fixture
def note(user):
    return NoteFactory(owner=user)


@pytest.fixture
def attached(auth_client, note):
    """A small PNG uploaded to `note` through the API: the attachment's JSON."""
    return upload(auth_client, note, PNG, "dot.png").json()
