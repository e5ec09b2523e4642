"""Ingest: from a stored webhook event to messages, conversations and live pushes."""
