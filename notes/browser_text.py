"""A note's text as a browser's form sends it back.

A page draws a note's title in a one-line text box and its content in a text
area, and a browser sends neither back quite as stored, even untouched: a
text box drops line breaks (CR and LF), and a text area sends every line
break as CRLF, a lone CR too (the page's HTML parser reads it as a line
break). Text sent back as the browser would send the stored text is taken
as unchanged, so saving a page (to pin a note, say) never rewrites the rest.
"""


def as_sent(text):
    """Text from a form with LF line breaks: what is stored, so what the length limit counts.

    A browser sends a text area's line breaks as CRLF; counted as sent, a note
    within the limit in JSON was too long from a form.
    """
    return text.replace("\r\n", "\n")


def round_trip(stored, *, one_line=False):
    """What a browser sends back for `stored` drawn in a text area (or a one-line text box), after `as_sent`."""
    if one_line:
        return stored.replace("\r", "").replace("\n", "")
    return as_sent(stored).replace("\r", "\n")


def as_edited(sent, stored=None, *, one_line=False):
    """`sent` (a text area's after `as_sent`), or `stored` itself if `sent` is what a browser sends back for it.

    A note written elsewhere with CRLF, a lone CR or, in its title, a line
    break keeps them; any other change is an edit, saved as sent.
    """
    if stored is not None and round_trip(stored, one_line=one_line) == sent:
        return stored
    return sent
