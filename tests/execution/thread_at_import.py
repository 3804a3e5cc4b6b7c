"""A module that starts a thread when it is imported: a warm parent must not keep it
(a process forked while another of its threads runs inherits that thread's locks)."""

from __future__ import annotations

import threading

#: Set for ever: the thread waits on it.
_never = threading.Event()

threading.Thread(target=_never.wait, name="started-at-import", daemon=True).start()
