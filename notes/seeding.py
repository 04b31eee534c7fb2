"""Realistic notes in bulk, for `manage.py seed_notes` and the benchmark.

The text mixes very common words, rare ones (each in a handful of notes out
of a million) and some Chinese and Japanese, the way a real collection does,
so searches and the index are exercised as they would be in use. It is
deterministic for a given seed, so a benchmark can name words it knows are
common or rare.
"""

import random
from datetime import timedelta

from django.utils import timezone

COMMON_WORDS_TEXT = """
the of and to in is that for it as was with be by on not he this are or his from at which but have an they
you were her she there been one all we their has would when if so no will more about can said them some
could into than time only other new then these two may first any like now my such make over our even most
me state after also made many did must before back see through way where get much go well your know should
down work year because come people just say each those take day good how long very own think life world
meeting project notes idea plan review budget team call email report draft list buy milk eggs bread coffee
book read write travel trip flight hotel doctor school garden recipe dinner lunch weekend monday friday
client design code bug release deploy server database backup invoice tax rent car bike gym run walk
"""
COMMON_WORDS = tuple(COMMON_WORDS_TEXT.split())
TAGS_TEXT = """
work home personal ideas todo shopping travel health finance reading recipes projects meetings journal
family music movies books garden code learning archive someday urgent waiting reference school kids car
house fitness photos gifts events writing research design clients taxes insurance pets hobbies notes/inbox
notes/archive 仕事 读书
"""
TAGS = tuple(TAGS_TEXT.split())
CJK_SENTENCES = (
    "東京タワーへ行きました。",
    "明日の会議は午後三時からです。",
    "今日は天気がいいので公園を散歩しました。",
    "牛乳と卵とパンを買う。",
    "新しいプロジェクトの計画を立てる。",
    "我们明天在北京开会。",
    "这本书非常有意思。",
    "记得给妈妈打电话。",
    "周末去上海旅行。",
    "学习中文很有趣。",
)
SYLLABLES_TEXT = "ka ri to mo zu ven lor qua nix dra pel sto fin gar bex yul mir tho cal dun"
SYLLABLES = tuple(SYLLABLES_TEXT.split())
RARE_WORD_COUNT = 200_000


def rare_word(n):
    """The n-th rare word: made of syllables, so it reads as a word and is in no dictionary."""
    parts = []
    for _ in range(4):
        n, digit = divmod(n, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return "".join(parts) + "x"


class NoteTextGenerator:
    """Makes note dicts for `notes.services.note_create_many`."""

    def __init__(self, *, seed=0, count=1, now=None):
        self.random = random.Random(seed)
        self.count = count
        self.now = now or timezone.now()
        self.span = timedelta(days=3 * 365)
        # Zipf-like weights: the first words are far more common than the last.
        weights = [1 / (rank + 1) ** 0.9 for rank in range(len(COMMON_WORDS))]
        self.sentences = []
        for _ in range(4000):
            length = self.random.randint(5, 14)
            words = self.random.choices(COMMON_WORDS, weights=weights, k=length)
            self.sentences.append(" ".join(words).capitalize() + self.random.choice(".....?!"))
        self.tag_weights = [1 / (rank + 1) for rank in range(len(TAGS))]

    def notes(self):
        rnd = self.random
        for index in range(self.count):
            sentences = rnd.choices(self.sentences, k=rnd.randint(2, 7))
            if rnd.random() < 0.6:
                sentences.insert(rnd.randrange(len(sentences) + 1), f"See {rare_word(rnd.randrange(RARE_WORD_COUNT))}.")
            if rnd.random() < 0.05:
                sentences.append(rnd.choice(CJK_SENTENCES))
            title_words = rnd.choice(self.sentences).rstrip(".?!").split()[: rnd.randint(2, 6)]
            created_at = self.now - self.span * (1 - index / self.count)
            edited = timedelta(seconds=rnd.randrange(30 * 86400)) if rnd.random() < 0.3 else timedelta(0)
            yield {
                "title": " ".join(title_words).capitalize(),
                "content": " ".join(sentences),
                "pinned": rnd.random() < 0.01,
                "tags": sorted(set(rnd.choices(TAGS, weights=self.tag_weights, k=rnd.randint(0, 3)))),
                "created_at": created_at,
                "updated_at": min(created_at + edited, self.now),
            }
