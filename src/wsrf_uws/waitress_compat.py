"""Every workaround for waitress, the HTTP server of ``wsrf-uws serve``, in one place.

One so far, which the VOSpace endpoint (contract ``vospace``) needs for CADC's client.

waitress (3.0.2, and earlier 3.x) never hands a request to the application when the
request has no body but carries ``Expect: 100-continue``: it answers ``100 Continue``,
marks the request incomplete again and waits for a body that never comes, so the
client waits forever. The CADC ``vos`` client sends that header on every request it
makes through its ``VOFile`` class, which is how it reads nodes (``get_node``,
``isdir``, ``listdir``); without the fix those calls hang.

:func:`fix_expect_continue` makes a waitress server ignore the expectation on requests
that announce no body (nothing is left to continue). Requests with a body keep the
standard behaviour.
"""

from __future__ import annotations

from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer


class BodylessExpectParser(HTTPRequestParser):
    """A request parser that drops ``Expect: 100-continue`` when there is no body."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.expect_continue and not self.chunked and self.content_length == 0:
            self.expect_continue = False


class BodylessExpectChannel(HTTPChannel):
    """An HTTP channel whose requests are read by :class:`BodylessExpectParser`."""

    parser_class = BodylessExpectParser


def fix_expect_continue(server: Any) -> None:
    """Make ``server`` (what ``waitress.server.create_server`` returns, one socket or
    several) read new connections with :class:`BodylessExpectChannel`."""
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = BodylessExpectChannel
