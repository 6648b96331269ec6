"""Scenario files: the pydantic schema, YAML loading with all errors at once, overrides."""
