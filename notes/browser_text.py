"""A note's text as a browser's form sends it back."""


def as_sent(text):
    """Text from a form with LF line breaks: what is stored, so what the length limit counts.

    A browser sends a text area's line breaks as CRLF; counted as sent, a note
    within the limit in JSON was too long from a form.
    """
    return text.replace("\r\n", "\n")


def as_edited(sent, stored=None):
    """`sent` with LF line breaks, or `stored` itself if nothing else in the text changed.

    A browser sends a text area's line breaks as CRLF, whatever they were, so
    a note saved from a page with its text untouched would otherwise change;
    one written elsewhere with CRLF keeps them.
    """
    sent = as_sent(sent)
    if stored is not None and stored.replace("\r\n", "\n") == sent:
        return stored
    return sent
