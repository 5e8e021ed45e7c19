"""A SQL tracker store whose per-message cost does not grow with the conversation (issue 16).

Rasa 3.6's ``SQLTrackerStore`` loads every event of the current conversation session for each
message, and Rasa then replays them into a tracker, featurises them for the policies and sends them
all to the action server. A session lasts until 12 hours of silence (``domain.yml``), so a trader
who works through an advisor, follow-ups and a handoff, or staff testing the bot all day, pay for
the whole history on every message: 25 ms per message for a fresh session, 204 ms at turn 95.

This store keeps a *window* per conversation instead: the events since a cut a few user messages
back, preceded by the events that restore the state at the cut (every slot that was set, the form
that was active, then ``action_listen``). The policies look back at most a few turns (TEDPolicy's
``max_history`` is 5 states), the actions read the latest message and the slots, so nothing the
dialogue uses is lost. The window holds between ``window_turns`` and ``2 * window_turns`` user
messages: when it reaches the upper bound, the save moves the cut forward to ``window_turns``
messages back, replaying only the window to compute the state at the new cut.

Everything is still stored: ``save`` appends to Rasa's ``events`` table as before, and
``retrieve_full_tracker`` (Rasa's ``GET /conversations/<id>/tracker``), the console's conversation
pages (read straight from the table) and the exports see the whole history.

Which events of a tracker are new is decided as Rasa does it (the count of stored events in the
window, plus the restored prefix), with the window the tracker was *loaded* with, remembered on
the tracker object: a second save of the same tracker after the cut moved adds nothing twice.

This module runs only in Rasa's environment (Python 3.10); ``tests/test_tracker_window.py`` drives it.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

WINDOW_TURNS = 6  # user messages a loaded tracker holds at least (and at most twice as many)


class TrackerWindow(SQLTrackerStore.Base):  # type: ignore[misc, valid-type]
    """Where a conversation's window starts, and the events that restore the state there."""

    __tablename__ = "tracker_windows"

    sender_id = sa.Column(sa.String(255), primary_key=True)
    first_event_id = sa.Column(sa.Integer, nullable=False)  # the first stored event the window holds
    state = sa.Column(sa.Text, nullable=False)  # JSON list of events: slots and form at the cut


# The window's query filters one sender's events by id; the session query looks up the sender's
# latest session start. Rasa indexes only sender_id.
_INDEXES = [
    sa.Index("ix_events_sender_id_id", SQLTrackerStore.SQLEvent.sender_id, SQLTrackerStore.SQLEvent.id),
    sa.Index(
        "ix_events_sender_type_time",
        SQLTrackerStore.SQLEvent.sender_id,
        SQLTrackerStore.SQLEvent.type_name,
        SQLTrackerStore.SQLEvent.timestamp,
    ),
]


@dataclass(frozen=True)
class Loaded:
    """The window a tracker was built from: its first stored event id (None: the whole session) and
    how many restored-state events precede the stored ones."""

    first_event_id: int | None
    prefix: int


LOADED_ATTRIBUTE = "_zta_window"


class WindowedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that loads a bounded window of the current session (see the module doc)."""

    def __init__(self, *args: Any, window_turns: int | str = WINDOW_TURNS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates the events and tracker_windows tables
        self.window_turns = int(window_turns)
        if self.window_turns < 1:
            raise ValueError(f"window_turns must be at least 1, not {window_turns!r}")
        for index in _INDEXES:
            try:
                index.create(self.engine, checkfirst=True)
            except sa.exc.SQLAlchemyError as exc:  # another replica created it at the same moment
                logger.info("index %s not created here: %s", index.name, exc)

    # -- reading ----------------------------------------------------------------------------------

    def _window_query(self, session: Any, sender_id: str, first_event_id: int | None) -> Any:
        query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        if first_event_id is not None:
            query = query.filter(self.SQLEvent.id >= first_event_id)
        return query

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session's window: the restored state at the cut, then the events since."""
        with self.session_scope() as session:
            window = session.get(TrackerWindow, sender_id)
            first_event_id = window.first_event_id if window is not None else None
            rows = self._window_query(session, sender_id, first_event_id).all()
            if not self.domain or not rows:
                return None
            # Counted after deserialising: an event Rasa cannot read is dropped, and the count must match.
            prefix = deserialise_events(json.loads(window.state)) if window is not None else []
            stored = deserialise_events([json.loads(row.data) for row in rows])
        tracker = DialogueStateTracker.from_events(sender_id, prefix + stored, self.domain.slots)
        setattr(tracker, LOADED_ATTRIBUTE, Loaded(first_event_id, len(prefix)))
        return tracker

    # -- writing ----------------------------------------------------------------------------------

    def _loaded(self, session: Any, tracker: DialogueStateTracker) -> Loaded:
        loaded = getattr(tracker, LOADED_ATTRIBUTE, None)
        if isinstance(loaded, Loaded):
            return loaded
        # Not built by retrieve (a new conversation, or a tracker Rasa made itself): the stored window.
        window = session.get(TrackerWindow, tracker.sender_id)
        if window is None:
            return Loaded(None, 0)
        return Loaded(window.first_event_id, len(deserialise_events(json.loads(window.state))))

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The tracker's events that are not stored yet (what Rasa's ``save`` writes)."""
        loaded = self._loaded(session, tracker)
        stored = self._window_query(session, tracker.sender_id, loaded.first_event_id).count()
        return itertools.islice(tracker.events, loaded.prefix + stored, len(tracker.events))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        with self.session_scope() as session:
            if self._move_window(session, tracker):
                session.commit()

    def _move_window(self, session: Any, tracker: DialogueStateTracker) -> bool:
        """Move the cut to ``window_turns`` user messages back once the window holds twice that."""
        if self.domain is None:
            return False
        loaded = self._loaded(session, tracker)
        events = list(tracker.events)
        users = [i for i in range(loaded.prefix, len(events)) if isinstance(events[i], UserUttered)]
        if len(users) <= 2 * self.window_turns:
            return False
        ids = [
            row_id
            for (row_id,) in self._window_query(session, tracker.sender_id, loaded.first_event_id)
            .with_entities(self.SQLEvent.id)
            .all()
        ]
        if len(ids) != len(events) - loaded.prefix:
            # The stored window is not this tracker's: a new session started during this message (the
            # next message loads from its start), or another writer. Leave the cut where it is.
            logger.debug(
                "tracker %s: window not moved (%d stored, %d loaded)", tracker.sender_id, len(ids), len(events)
            )
            return False
        cut = users[-self.window_turns]
        at_cut = DialogueStateTracker.from_events(tracker.sender_id, events[:cut], self.domain.slots)
        state = _restoring_events(at_cut, events[cut - 1].timestamp)
        session.merge(TrackerWindow(sender_id=tracker.sender_id, first_event_id=ids[cut - loaded.prefix], state=state))
        return True


def _restoring_events(tracker: DialogueStateTracker, timestamp: float) -> str:
    """JSON events that put a fresh tracker in ``tracker``'s state: its form, its slots, listening."""
    restoring: list[Any] = []
    if tracker.active_loop_name:
        restoring.append(ActiveLoop(tracker.active_loop_name, timestamp=timestamp))
    for name, slot in tracker.slots.items():
        if slot.value != slot.initial_value:
            restoring.append(SlotSet(name, slot.value, timestamp=timestamp))
    restoring.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=timestamp))
    return json.dumps([event.as_dict() for event in restoring])
