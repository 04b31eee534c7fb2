from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox import auth
from knox.crypto import hash_token
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import AuthToken
from notesite.prepared import PreparedQuery

# Every authenticated request runs this lookup: compiled once (notesite.prepared).
token_by_digest = PreparedQuery(
    AuthToken,
    lambda digest: AuthToken.objects.select_related("user").filter(digest=digest),
    placeholders=["\0digest\0"],
)


class TokenAuthentication(auth.TokenAuthentication):
    """Knox tokens, checked with one indexed query on the digest.

    Knox itself loads every token of the user on each request to prune the
    expired ones; here an expired token is simply refused, and pruning is
    left to `manage.py purge_tokens`.
    """

    def authenticate_credentials(self, token):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Invalid token.")) from None
        auth_token = token_by_digest.first(hash_token(token))
        if auth_token is None or (auth_token.expiry is not None and auth_token.expiry <= timezone.now()):
            raise AuthenticationFailed(_("Invalid token."))
        return self.validate_user(auth_token)
