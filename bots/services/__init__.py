"""Writes and transactions for what a bot is. One module per area; import functions from their module."""
