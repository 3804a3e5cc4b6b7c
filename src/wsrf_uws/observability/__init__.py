"""What an operator watches: job event log lines, the log format, ``/health``, ``/metrics``."""
