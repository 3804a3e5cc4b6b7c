"""The ADQL service with a result cursor (contract ``adql``, pattern §3.2)."""
