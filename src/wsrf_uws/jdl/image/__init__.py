"""The image service with data staging (contract ``image``, pattern §3.1)."""
