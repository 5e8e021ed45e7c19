"""Connectors: the public gateway (FastAPI) and the chat channels behind it (web widget, Telegram)."""
