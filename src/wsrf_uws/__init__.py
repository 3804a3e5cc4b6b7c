"""wsrf-uws: the IVOA Universal Worker Service pattern over SOAP and WS-ResourceFramework."""

__version__ = "0.1.0.dev0"
