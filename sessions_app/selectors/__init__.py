"""Reads. One module per area; import functions from their module."""
