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

import hashlib
import logging
import re

import nh3
import orjson
from django.core.cache import cache
from markdown_it import MarkdownIt

from notesite.cache import CACHE_ERRORS

logger = logging.getLogger(__name__)

ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Rendered pages of notes at least this long are kept in the shared cache, for a day.
KEEP_FROM_CHARS = 10_000
KEEP_SECONDS = 24 * 3600
ATTACHMENT_URL = re.compile(r"(?:https?://[^/]+)?/api/attachments/([0-9]{1,18})/download/?")

markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def render(text, image_urls):
    """(the Markdown `text` as safe HTML, the ids of the attachments it shows as images).

    `image_urls` maps attachment ids to the URLs to show them at.
    """
    tokens = markdown.parse(text)
    shown = set()
    for token in tokens:
        for child in token.children or ():
            if child.type == "image" and (match := ATTACHMENT_URL.fullmatch(str(child.attrGet("src") or ""))):
                shown.add(attachment_id := int(match[1]))
                if attachment_id in image_urls:
                    child.attrSet("src", image_urls[attachment_id])
    return sanitise(markdown.renderer.render(tokens, markdown.options, {})), shown


def render_kept(text, image_urls):
    """render(), kept in the shared cache for a long text, under a digest of what it depends on.

    Anyone holding a link may fetch its page again and again, and a long
    note can take seconds to render (100,000 characters of `[`: 1.4-2 s here,
    most of it markdown-it's); a short one takes less than the cache would.
    """
    if len(text) < KEEP_FROM_CHARS:
        return render(text, image_urls)
    key = "shared-note-html:" + hashlib.sha256(orjson.dumps([text, sorted(image_urls.items())])).hexdigest()
    rendered = None
    try:
        rendered = cache.get(key)
        if rendered is None:
            rendered = render(text, image_urls)
            cache.set(key, rendered, KEEP_SECONDS)
    except CACHE_ERRORS as error:
        # The page still answers, rendered per fetch until the cache is back.
        logger.error("The cache cannot keep a public page: %r", error)
    return rendered or render(text, image_urls)


def sanitise(html):
    return nh3.clean(
        html,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
