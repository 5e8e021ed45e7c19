"""The FastAPI gateway: the only process reachable from outside the machine."""
