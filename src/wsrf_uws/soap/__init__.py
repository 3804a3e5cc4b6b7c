"""The SOAP binding: WS-ResourceFramework and the contracts' operations over SOAP 1.1 (Spyne).

It speaks for the core's :class:`~wsrf_uws.core.service.JobService` and knows contracts only
through the core's protocol; the modules are imported one by one (nothing is re-exported
here), so importing one part does not load Spyne.
"""
