"""The CSRF defence of the pages: a form token per owner, and the rule for who needs one.

A browser attaches its cached HTTP Basic credentials to every request it sends to the
service, including a form another site makes it post. So every state-changing request a
browser sends (``POST``, ``DELETE``) must carry :data:`TOKEN_FIELD`, which only the
service's own pages hold: ``HMAC-SHA256(secret, owner)``, the secret being random bytes kept
in the data directory (:func:`load_secret`), so tokens survive a restart and an owner's
token is useless to any other owner.

A request is a browser's when it carries ``Origin`` or ``Sec-Fetch-Site``: browsers set
them on every cross-site ``POST`` (a page cannot remove them), and the clients of the REST
binding (pyvo, curl, zeep, TOPCAT) set neither, so they go on posting without a token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The form field (or query parameter) holding the token; upper-case like UWS parameters.
TOKEN_FIELD = "CSRF_TOKEN"  # noqa: S105 (a field name, not a secret)

#: The file, in the data directory, holding the secret of the tokens.
SECRET_FILE = "page-token.secret"  # noqa: S105 (a file name)

_SECRET_BYTES = 32
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def load_secret(data_dir: Path | str) -> bytes:
    """The tokens' secret kept in ``data_dir``, made (readable by its owner only) when
    missing; a secret that is too short is made anew."""
    path = Path(data_dir) / SECRET_FILE
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    if len(secret) >= _SECRET_BYTES:
        return secret
    secret = secrets.token_bytes(_SECRET_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    os.replace(partial, path)
    return path.read_bytes()  # another process may have replaced it first: theirs wins


class FormTokens:
    """Makes and checks the form tokens of one secret."""

    def __init__(self, *, secret: bytes) -> None:
        self._secret = secret

    def token(self, owner: str) -> str:
        """The token the pages put in ``owner``'s forms."""
        return hmac.new(self._secret, owner.encode("utf-8"), hashlib.sha256).hexdigest()

    def accepts(self, owner: str, token: str | None) -> bool:
        """True when ``token`` is ``owner``'s (compared in constant time)."""
        return token is not None and hmac.compare_digest(token, self.token(owner))


def needs_token(environ: Mapping[str, Any]) -> bool:
    """True for a state-changing request sent by a browser (see the module)."""
    method = str(environ.get("REQUEST_METHOD", "")).upper()
    if method not in _UNSAFE_METHODS:
        return False
    return "HTTP_ORIGIN" in environ or "HTTP_SEC_FETCH_SITE" in environ
