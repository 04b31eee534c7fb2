import factory

from accounts.tests.factories import UserFactory
from notes.models import Note
from notes.services import note_create


class NoteFactory(factory.django.DjangoModelFactory):
    """Notes made through `note_create`, exactly as the API makes them."""

    class Meta:
        model = Note

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Note {n}")
    content = factory.Faker("paragraph")
    pinned = False
    tags = factory.List([])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return note_create(**kwargs)
