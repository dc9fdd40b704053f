"""The `timbre` command."""
