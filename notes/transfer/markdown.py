"""One note as a Markdown file with YAML front matter, and safe file names for it.

    ---
    title: "Groceries"
    pinned: false
    tags: ["home", "shopping"]
    created_at: 2026-11-24T10:00:00.123456Z
    updated_at: 2026-11-24T10:00:00.123456Z
    ---
    milk, eggs

Everything after the closing `---` line is the note's content, exactly.
Strings are written double-quoted with every line break and unprintable
character escaped, so no title or tag can end the front matter early.
"""

import re
import unicodedata

import yaml

from notes.tags import MAX_TAG_LENGTH
from notesite.sqljson import utc_timestamp as timestamp

# libyaml when the wheel has it: several times faster than pure Python.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
MAX_FRONT_MATTER_CHARS = 64 * 1024
# What an export's front matter adds for each file attached to its note: a
# line of two names (up to 255 characters each, some escaped), a SHA-256 and
# a date-time.
FRONT_MATTER_CHARS_PER_FILE = 2048
MAX_TITLE_CHARS = 200

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
# An ATX heading's opening; its text and optional closing #s are cut in
# Python (heading_text): a pattern taking the text lazily up to the closing
# sequence backtracked in quadratic time on a line of many spaces.
HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.+)")
FENCE = re.compile(r"^ {0,3}(?:```|~~~)")

# What a YAML double-quoted scalar must escape: the quote and backslash, C0
# and C1 controls, DEL, YAML's own line breaks, and the BOM and non-characters.
YAML_ESCAPED = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]')
YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


class FormatError(ValueError):
    """The file is not a note this format can read."""


def yaml_string(text):
    """`text` as a one-line YAML double-quoted scalar."""

    def escape(match):
        char = match.group()
        if char in YAML_ESCAPES:
            return YAML_ESCAPES[char]
        code = ord(char)
        return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"

    return f'"{YAML_ESCAPED.sub(escape, text)}"'


def render(note, extra_lines=()):
    """The note as the text of a Markdown file with front matter; `extra_lines` end the front matter."""
    front_matter = "\n".join(
        [
            "---",
            f"title: {yaml_string(note.title)}",
            f"pinned: {'true' if note.pinned else 'false'}",
            f"tags: [{', '.join(yaml_string(tag) for tag in note.tags)}]",
            f"created_at: {timestamp(note.created_at)}",
            f"updated_at: {timestamp(note.updated_at)}",
            *extra_lines,
            "---",
            "",
        ]
    )
    return front_matter + note.content


def parse(text, *, files=0):
    """(front matter as a dict, body) of a Markdown file; {} when it has none.

    A first line `---` with no closing `---` or `...` line is a horizontal
    rule, not front matter. `files`: how many attached files it may list.
    """
    match = FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    block = match.group(1)
    if len(block) > (limit := max_front_matter_chars(files)):
        raise FormatError(f"The front matter is longer than {limit} characters.")
    try:
        # Aliases can make a few bytes stand for billions of values ("billion
        # laughs"); front matter has no use for them.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(block, Loader=YAML_LOADER)):
            raise FormatError("The front matter may not use YAML aliases (*name).")
        loader = YAML_LOADER(block)  # a safe loader
        try:
            node = loader.get_single_node()
            metadata = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as exc:  # the pure-Python loader recurses
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise FormatError(f"The front matter is not valid YAML{line}.") from None
    except FormatError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        # YAML's constructors raise these for a scalar of their form that
        # holds no value: `2024-02-30`, `!!int x`, `!!bool maybe`.
        raise FormatError("The front matter holds a value YAML cannot read (a date that does not exist?).") from None
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise FormatError("The front matter must be a mapping of names to values.")
    title = _title_node(node)
    if isinstance(title, yaml.ScalarNode) and title.tag != NULL_TAG and not isinstance(metadata.get("title"), str):
        # A title is text as written: YAML read `title: 1.10` as the number 1.1,
        # `012` as 10 and `2024-01-01` as a date.
        metadata["title"] = title.value
    return metadata, text[match.end() :]


def _title_node(node):
    """The node `title` maps to in a front matter's mapping (the last, as YAML keeps the last), else None."""
    if not isinstance(node, yaml.MappingNode):
        return None  # empty front matter, or a `~` standing for none
    titles = [value for key, value in node.value if key.tag == STR_TAG and key.value == "title"]
    return titles[-1] if titles else None


def max_front_matter_chars(files=0):
    return MAX_FRONT_MATTER_CHARS + FRONT_MATTER_CHARS_PER_FILE * files


def first_heading(body):
    """The text of the body's first ATX heading (`# Title`) outside code fences, or None."""
    in_fence = False
    for line in body.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := HEADING.match(line.rstrip("\r"))):
            return heading_text(match.group(1))
    return None


def heading_text(rest):
    """A heading's text from what follows its opening #s: trimmed, without the closing #s.

    `## Shopping list ##` is "Shopping list"; a closing sequence counts only
    after a space or tab, so `# C#` is "C#" and `# ##` is "##".
    """
    text = rest.strip(" \t")
    unclosed = text.rstrip("#")
    if unclosed != text and unclosed.endswith((" ", "\t")):
        text = unclosed
    return text.strip()


def derived_title(*candidates):
    """The first candidate that is non-blank, trimmed and cut to the title limit."""
    for candidate in candidates:
        if candidate and candidate.strip():
            return candidate.strip()[:MAX_TITLE_CHARS].strip()
    return "Untitled"


def folder_tag(folders):
    """One tag from the folders a file sits in: `Work/Side projects` gives `work/side-projects`."""
    parts = [part for part in (_slug(folder) for folder in folders) if part]
    return "/".join(parts)[:MAX_TAG_LENGTH].strip("/-") or None


def _slug(name):
    lowered = unicodedata.normalize("NFC", name).lower()
    kept = "".join(char if char in "-_" or unicodedata.category(char)[0] in "LMN" else "-" for char in lowered)
    return re.sub(r"-{2,}", "-", kept).strip("-")


# File names


WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
UNSAFE_IN_FILE_NAMES = frozenset('/\\:*?"<>|')
MAX_STEM_BYTES = 180  # leaves room for " (12345).md" under the usual 255-byte limit


def file_stem(title):
    """A file name (without extension) for a title, safe on Linux, macOS and Windows.

    Separators, characters Windows forbids, and control and format characters
    (such as bidirectional overrides) become `-`; whitespace runs become one
    space; no leading dot or dash (hidden files, options), no trailing dot.
    """
    text = " ".join(unicodedata.normalize("NFC", title).split())
    text = "".join(
        "-" if char in UNSAFE_IN_FILE_NAMES or unicodedata.category(char)[0] == "C" else char for char in text
    )
    while len(text.encode()) > MAX_STEM_BYTES:
        text = text[:-1]
    text = text.lstrip(" .-").rstrip(" .")
    if not text:
        return "Untitled"
    if text.split(".")[0].upper() in WINDOWS_RESERVED:
        return f"_{text}"
    return text


class UniqueNames:
    """File names that never collide, even on case-insensitive file systems.

    `Groceries.md`, then `Groceries (2).md`, `Groceries (3).md`, ...
    """

    def __init__(self, suffix=".md"):
        self.suffix = suffix
        # Hashes of the case-folded names given, not the names: a few dozen
        # bytes a note for a large export. A hash collision, vanishingly rare,
        # only numbers a name that did not need it.
        self.taken = set()
        self.next_number = {}  # only for stems that have collided

    def __call__(self, stem):
        key = stem.casefold()
        number = self.next_number.get(key, 1)
        while hash((name := self.name(stem, number)).casefold()) in self.taken:
            number += 1
        if number > 1:
            self.next_number[key] = number + 1
        self.taken.add(hash(name.casefold()))
        return name

    def name(self, stem, number):
        return f"{stem}{self.suffix}" if number == 1 else f"{stem} ({number}){self.suffix}"
