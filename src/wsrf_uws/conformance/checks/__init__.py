"""The kit's check groups, one module each: wsdl, lifecycle, faults, addressing, owners,
restart."""
