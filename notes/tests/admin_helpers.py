"""Forms of the admin's pages, posted as a browser would."""

import re


def confirmation_form(client, url):
    """The fields of the confirmation page's form at `url`: what its button posts."""
    page = client.get(url).content.decode()
    form = re.search(r'<form method="post">(.*?)</form>', page, re.DOTALL).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def posted_fields(response):
    """The hidden fields of the post form on the page `response` drew, as its button posts them.

    A name may come more than once (a bulk action's selection), so each maps to a list.
    """
    form = re.search(r'<form method="post">(.*?)</form>', response.content.decode(), re.DOTALL)
    assert form, f"The page has no form to post: {response.content.decode()}"
    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)):
        fields.setdefault(name, []).append(value)
    return fields
