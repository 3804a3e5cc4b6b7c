"""A template contract for wsrf-uws: ``checksum``, digests of texts and of demo files.

:mod:`uws_template.contract` is the contract, :mod:`uws_template.settings` its section of
the service settings, ``checksum.xsd`` its schema.
"""
