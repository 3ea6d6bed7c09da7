"""Writes and transactions. One module per area; import functions from their module."""
