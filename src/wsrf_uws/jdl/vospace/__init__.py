"""VOSpace with controlled lifetime (contract ``vospace``, pattern §3.3)."""
