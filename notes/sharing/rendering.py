"""A note's Markdown as HTML that can run nothing: markdown-it-py renders, nh3 sanitises.

Raw HTML in a note is allowed through the renderer and then cleaned by an
allow-list (nh3, the Ammonia sanitiser): no script or style element, no
event handler or style attribute, no iframe, form, object or embed, and
only http, https and mailto URLs (so no `javascript:`, `data:` or
`vbscript:`) survive. The page's content security policy, which forbids
every script, stands behind this in case anything ever slipped through.

Images that point at one of the note's own attachments (its API
`download_url`, absolute or not) are pointed at the link's copy, which
anyone holding the link may load.
"""

import re

import nh3
from markdown_it import MarkdownIt

ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
ATTACHMENT_URL = re.compile(r"(?:https?://[^/]+)?/api/attachments/([0-9]{1,18})/download/?")

markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def render(text, image_urls):
    """The Markdown `text` as safe HTML; `image_urls` maps attachment ids to the URLs to show them at."""
    tokens = markdown.parse(text)
    for token in tokens:
        for child in token.children or ():
            if child.type == "image":
                match = ATTACHMENT_URL.fullmatch(str(child.attrGet("src") or ""))
                if match and int(match[1]) in image_urls:
                    child.attrSet("src", image_urls[int(match[1])])
    return sanitise(markdown.renderer.render(tokens, markdown.options, {}))


def sanitise(html):
    return nh3.clean(
        html,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def referenced_attachments(text):
    """The ids of attachments the Markdown shows as images."""
    ids = set()
    for token in markdown.parse(text):
        for child in token.children or ():
            if child.type == "image" and (match := ATTACHMENT_URL.fullmatch(str(child.attrGet("src") or ""))):
                ids.add(int(match[1]))
    return ids
