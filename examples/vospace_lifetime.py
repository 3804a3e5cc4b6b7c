"""Negotiate a VOSpace space over SOAP, use it over REST, extend it, and release it (``vospace``).

    python examples/vospace_lifetime.py [SERVICE_URL USER PASSWORD]

Without arguments, ``$WSRF_UWS_URL`` (else http://127.0.0.1:8080), ``$WSRF_UWS_USER``
and ``$WSRF_UWS_PASSWORD``. SERVICE_URL is the service's base URL; spaces
belong to users, so the service needs a users file (``wsrf-uws users add USER``) and this
script sends USER's credentials: as a WS-Security UsernameToken over SOAP, as HTTP Basic
to the VOSpace endpoint. It asks for 1 MB for one day, prints the service's offer, starts
the job (which creates the space), uploads a file through a VOSpace 2.1 synchronous
transfer, lists the space and downloads the file again, extends the space's lifetime by
a day, and destroys the job, which deletes the space. Exits with status 0 when all of
that worked.
"""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import timedelta

import requests
from lxml import etree

from wsrf_uws.client import ClientError, Service

VOSPACE = "urn:wsrf-uws:vospace:v1"
VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
CORE = "ivo://ivoa.net/vospace/core#"


def transfer(base_url: str, uri: str, direction: str, protocol: str, auth: tuple[str, str]) -> str:
    """A synchronous VOSpace transfer: POST the request, follow the 303, read the endpoint."""
    document = (
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1"><vos:target>{uri}</vos:target>'
        f"<vos:direction>{direction}</vos:direction>"
        f'<vos:protocol uri="{CORE}{protocol}"/></vos:transfer>'
    )
    details = requests.post(f"{base_url}/vospace/synctrans", data=document, auth=auth, timeout=30)
    details.raise_for_status()
    endpoint = etree.fromstring(details.content).findtext(f".//{{{VOS}}}endpoint")
    if not endpoint:
        raise RuntimeError(f"the service offered no endpoint: {details.text}")
    return endpoint


def main() -> int:
    if len(sys.argv) == 4:
        base_url, user, password = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    elif len(sys.argv) == 1 and "WSRF_UWS_USER" in os.environ:
        base_url = os.environ.get("WSRF_UWS_URL", "http://127.0.0.1:8080").rstrip("/")
        user, password = os.environ["WSRF_UWS_USER"], os.environ.get("WSRF_UWS_PASSWORD", "")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    auth = (user, password)
    service = Service(base_url, "vospace", username=user, password=password)

    job = service.create(
        f'<job xmlns="{VOSPACE}"><size>1000000</size><lifetime>P1D</lifetime></job>'
    )
    try:
        offer = job.property(f"{{{VOSPACE}}}state")[0].find(f"{{{VOSPACE}}}offer")
        assert offer is not None
        print(f"offer: {offer.get('size')} bytes for {offer.get('lifetime')}")
        for reason in offer.iter(f"{{{VOSPACE}}}reason"):
            print(f"  (less than asked: {reason.text})")

        job.start()  # creates the space
        state = job.wait(timeout=60)
        if state.phase != "COMPLETED":
            print(
                f"the space was not created: {state.phase} {state.error_message}", file=sys.stderr
            )
            return 1
        space = job.property(f"{{{VOSPACE}}}state")[0].find(f"{{{VOSPACE}}}space")
        assert space is not None
        identifier = space.findtext(f"{{{VOSPACE}}}identifier") or ""
        node = space.findtext(f"{{{VOSPACE}}}node") or ""
        print(f"space {identifier}\n  node {node}")

        data = b"a file kept for a while\n" * 1000
        put_url = transfer(base_url, f"{identifier}/notes.txt", "pushToVoSpace", "httpput", auth)
        requests.put(put_url, data=data, timeout=30).raise_for_status()
        listing = etree.fromstring(requests.get(node, auth=auth, timeout=30).content)
        print("  holds:", [n.get("uri") for n in listing.iter(f"{{{VOS}}}node")][1:])
        get_url = transfer(base_url, f"{identifier}/notes.txt", "pullFromVoSpace", "httpget", auth)
        back = requests.get(get_url, timeout=30).content
        same = back == data
        # VOSpace's own checksum property (core#MD5) is an MD5: not used for security.
        md5 = hashlib.md5(back, usedforsecurity=False).hexdigest()
        print(f"  downloaded {len(back)} bytes, {'identical' if same else 'DIFFERENT'} (MD5 {md5})")

        change = job.extend(by=timedelta(days=1))  # a day more, within the policy
        print(f"  now kept until {change.new_termination_time}")
        return 0 if same else 1
    finally:
        job.destroy()  # the space and everything in it are deleted
        print("destroyed")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ClientError, requests.RequestException, ValueError) as error:
        # A wrong password (NotAuthenticated), no service there, a bad URL: one line.
        sys.exit(f"vospace_lifetime.py: {error}")
