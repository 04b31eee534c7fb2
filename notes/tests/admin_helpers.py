"""Forms of the admin's pages, posted as a browser would."""

import re


def confirmation_form(client, url):
    """The fields of the confirmation page's form at `url`: what its button posts."""
    page = client.get(url).content.decode()
    form = re.search(r'<form method="post">(.*?)</form>', page, re.DOTALL).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
