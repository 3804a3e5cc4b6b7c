"""The exit statuses of the ``wsrf-uws`` command (documented in docs/cli.md).

Scripts tell them apart: a fault (the service said no) or a failed job is not worth
retrying as it is; a service that could not be reached may be, later.
"""

#: The command did what it was asked (and a job waited for COMPLETED).
DONE = 0
#: The service answered a fault or an HTTP error, or the job waited for ended other than
#: COMPLETED (or is HELD).
FAILED = 1
#: The command line or the configuration cannot be carried out as given.
USAGE = 2
#: No answer from the service: cannot connect, a timeout, HTTP 502-504 (try again later).
UNREACHABLE = 3
#: ``wait --timeout`` passed before the job ended.
TIMED_OUT = 4
#: Stopped with Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
#: Standard output was closed early, as by ``| head`` (128 + SIGPIPE).
BROKEN_PIPE = 141
