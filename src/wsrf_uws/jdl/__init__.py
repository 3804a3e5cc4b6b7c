"""Job-description languages (contracts) shipped with wsrf-uws."""
