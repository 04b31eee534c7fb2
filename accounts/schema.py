"""OpenAPI description of the token scheme (imported by AccountsConfig.ready)."""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme


class TokenScheme(KnoxTokenScheme):
    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"
