"""A note's text as a browser's form sends it back."""


def as_edited(sent, stored=None):
    """`sent` with LF line breaks, or `stored` itself if nothing else in the text changed.

    A browser sends a text area's line breaks as CRLF, whatever they were, so
    a note saved from a page with its text untouched would otherwise change;
    one written elsewhere with CRLF keeps them.
    """
    sent = sent.replace("\r\n", "\n")
    if stored is not None and stored.replace("\r\n", "\n") == sent:
        return stored
    return sent
