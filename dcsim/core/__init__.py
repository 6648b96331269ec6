"""Domain-free engine pieces: units, errors, random streams, registries, records."""
