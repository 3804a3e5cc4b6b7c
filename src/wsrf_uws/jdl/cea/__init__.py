"""The parameterized-applications contract (CEA v2, pattern §3.4)."""
