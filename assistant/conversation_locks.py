"""A Redis lock store that is safe with several Rasa replicas (``endpoints.scale.yml``).

Rasa 3.6's ``RedisLockStore`` issues, refreshes and returns tickets by reading the conversation's
lock from Redis, changing it in Python and writing it back. Two replicas doing that at the same
moment both read the same lock, both take ticket 0, and both process a message of one conversation
at once: the second tracker save then drops the first message's events. We saw it happen: two
replicas given a new conversation's first two messages at the same moment lost one of them in 4 of
12 trials with Rasa's store, and in 0 of 12 with this one (tests/e2e/test_scale.py races them). Rasa fixed it once (RasaHQ/rasa#11256, ``ConcurrentRedisLockStore``) and
reverted it from the open-source edition (#11428).

Here every read-modify-write of a conversation's lock runs under a short Redis mutex for that
conversation (redis-py's ``Lock``: SET NX with an expiry, released by a Lua compare-and-delete), so
the steps of two replicas cannot interleave. The ticket scheme itself is Rasa's, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# A read-modify-write takes a millisecond; the mutex expires on its own if a replica dies holding it.
MUTEX_SECONDS = 5.0
MUTEX_WAIT_SECONDS = 10.0


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket bookkeeping is atomic across processes."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    @contextmanager
    def _mutex(self, conversation_id: str) -> Iterator[None]:
        mutex = self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex", timeout=MUTEX_SECONDS, blocking_timeout=MUTEX_WAIT_SECONDS
        )
        if not mutex.acquire():
            raise LockError(f"could not update the lock of conversation {conversation_id!r} in time")
        try:
            yield
        finally:
            mutex.release()

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)
