"""Which service a client command talks to, and as whom: ``--url``, ``--contract``,
``--user`` and the password, from the flags, the environment or a prompt.

``--url`` defaults to ``$WSRF_UWS_URL``, else :data:`DEFAULT_URL`; it is the service's
base URL or a contract endpoint (``.../uws/{contract}``). The password is never a flag
(other users could read it in the process list): it comes from ``$WSRF_UWS_PASSWORD``,
else from a prompt when standard input is a terminal. Commands keep the WSDL on disk
(:mod:`wsrf_uws.client.wsdl_cache`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .job import Job
    from .service import Service

DEFAULT_URL = "http://127.0.0.1:8080"
_CONTRACT_IN_INDEX = re.compile(r"/uws/([A-Za-z0-9_.-]+)")


class UsageError(Exception):
    """The command line cannot be carried out as given (exit status 2)."""


def base_url(args: argparse.Namespace) -> str:
    """The URL of ``--url``, ``$WSRF_UWS_URL`` or the default, checked to be http(s)."""
    url = (args.url or os.environ.get("WSRF_UWS_URL") or DEFAULT_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        hint = "" if "://" in url else f" (did you mean http://{url} ?)"
        raise UsageError(f"--url {url!r} is not an http(s) URL{hint}")
    return url


def contract_of(args: argparse.Namespace) -> str | None:
    """The contract of ``--contract`` or ``$WSRF_UWS_CONTRACT``, if any."""
    return getattr(args, "contract", None) or os.environ.get("WSRF_UWS_CONTRACT") or None


def endpoint(args: argparse.Namespace, contract: str | None) -> str:
    """The contract endpoint the command talks to."""
    url = base_url(args)
    if "/uws/" in urlsplit(url).path:
        if contract and not url.endswith(f"/uws/{contract}"):
            raise UsageError(f"{url} is not the endpoint of the contract {contract}")
        return url
    if not contract:
        raise UsageError(
            "name the contract: --contract C, $WSRF_UWS_CONTRACT, or an --url ending in /uws/C"
        )
    return f"{url}/uws/{contract}"


def credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The user (``--user``, ``$WSRF_UWS_USER``) and password, or (None, None)."""
    user = args.user or os.environ.get("WSRF_UWS_USER")
    if not user:
        return None, None
    password = os.environ.get("WSRF_UWS_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError(f"set WSRF_UWS_PASSWORD to the password of {user}")
        try:
            password = getpass.getpass(f"password for {user}: ")
        except EOFError:
            print(file=sys.stderr)
            raise UsageError(f"no password given for {user}") from None
    return user, password


def service(args: argparse.Namespace, contract: str | None) -> Service:
    """The :class:`Service` of the command's endpoint, with its credentials."""
    from .service import Service
    from .wsdl_cache import default_cache_folder

    user, password = credentials(args)
    return Service(
        endpoint(args, contract),
        username=user,
        password=password,
        digest=args.digest,
        timeout=args.timeout,
        cache_folder=default_cache_folder(),
    )


def job(args: argparse.Namespace) -> Job:
    """The job ``RESOURCE-ID`` of the command."""
    return service(args, contract_of(args)).job(args.resource_id)


def any_contract(args: argparse.Namespace) -> str:
    """A contract to ask when any will do (listJobs answers on every endpoint): the one
    named, else the first the service's index page lists."""
    named = contract_of(args)
    url = base_url(args)
    if named or "/uws/" in urlsplit(url).path:
        return named or ""
    import requests

    from .channel import connection_error

    try:
        index = requests.get(f"{url}/", timeout=args.timeout)
    except requests.RequestException as error:
        raise connection_error(error, f"{url}/") from error
    found = _CONTRACT_IN_INDEX.search(index.text) if index.status_code == 200 else None
    if found is None:
        raise UsageError(f"{url} lists no contract: name one with --contract")
    return found.group(1)
