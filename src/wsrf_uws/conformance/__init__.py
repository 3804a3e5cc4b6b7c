"""Black-box checks of any UWS-over-WS-RF endpoint: the WSDL lint and the conformance kit."""
