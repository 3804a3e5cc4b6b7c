"""What the service and its clients agree on, byte for byte: names, namespaces, time texts
and the safe way to read XML.

Imports nothing of the project and nothing beyond the standard library and lxml, so the
thin client and every layer of the service can share it.
"""
