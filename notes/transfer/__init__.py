"""Export and import: a user's notes as one JSON document or a zip of Markdown files.

`markdown` reads and writes one note as a Markdown file with front matter,
`exporting` streams the two formats, `importing` reads them back (and plain
folders of Markdown from other tools), and `views` serves both over HTTP.
README, "Nothing lost", describes the formats.
"""

FORMAT_NAME = "notes-export"
FORMAT_VERSION = 1
