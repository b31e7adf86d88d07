"""The Python SDK for the suanli API: one `Client`, errors translated at the boundary."""

from suanli.client.http import ApiError, Client, ClientError, ServerUnreachable
from suanli.client.token_shape import TOKEN_KINDS, MalformedToken, check_token_shape

__all__ = [
    "TOKEN_KINDS",
    "ApiError",
    "Client",
    "ClientError",
    "MalformedToken",
    "ServerUnreachable",
    "check_token_shape",
]
