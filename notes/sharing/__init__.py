"""Public links: a note anyone with the link can read, as a sanitised HTML page.

`services` creates, finds and revokes links, `rendering` turns a note's
Markdown into HTML that can run nothing, and `views` serves the API that
manages a link and the page (with the note's images) that a link opens.
"""
