"""A consumer and its consumer-message rows: the delivery rules of spec §4.

Hot paths avoid scanning all rows. Rows are kept in a dict ordered by ``message_seq`` (a row
whose seq changes always gets the newest seq on the server, so it just moves to the end), and
two heaps index what receive needs: ``_ready`` (rows that may be deliverable, by seq) and
``_timers`` (in-flight rows, by visibility deadline; one entry per receive, holding the keys it
delivered, since they share their deadline). Heap entries are never removed eagerly; each row is
checked when its entry surfaces, which keeps every update O(log n).

Heap entries name rows by key, never hold them: a tuple of strings and numbers is dropped from
the garbage collector's lists at its first pass, while one holding a Row is scanned by every
collection for as long as it waits in the heap (bench figure 2.3). A ready entry is
``(message_seq, key)``: a seq belongs to one version of one key, so the pair is unique but for
a row pushed twice at the same seq, and the entry is current when ``rows[key]`` is still at that
seq (a row deleted and created again for the key has a newer seq).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from .ids import new_uuid4, new_uuid4_many
from .keys import filter_matches
from .models import (
    ACKED,
    AVAILABLE,
    DELIVERED,
    IN_FLIGHT,
    PENDING_REDELIVERY,
    Message,
    Row,
    format_micros,
    format_seconds,
)

#: Acked rows are kept until five minutes after backfill completed (§4.5).
ACK_RETENTION_US = 300 * 1_000_000

_ticks = itertools.count()


class Consumer:
    def __init__(
        self,
        consumer_id: str,
        name: str,
        stream: Any,
        filter_key_pattern: str,
        settings: dict[str, Any],
        now: int,
        relations: list[str],
    ) -> None:
        self.id = consumer_id
        self.name = name
        self.stream = stream
        self.filter_key_pattern = filter_key_pattern
        self.filter_tokens = filter_key_pattern.split(".")
        #: ``>`` matches every key (a key has at least one token): no split per message.
        self._matches_all = self.filter_tokens == [">"]
        self.kind: str = settings["kind"]
        self.status: str = settings["status"]
        self.ack_wait_ms: int = settings["ack_wait_ms"]
        self.max_ack_pending: int = settings["max_ack_pending"]
        self.max_deliver: int | None = settings["max_deliver"]
        self.max_waiting: int = settings["max_waiting"]
        self.http_endpoint_id: str | None = settings["http_endpoint_id"]
        self.backfill_completed_at: int | None = None
        self.inserted_at = now
        self.updated_at = now
        self.relations = relations
        self.rows: dict[str, Row] = {}
        self.by_ack_id: dict[str, Row] = {}
        self._acked_count = 0
        self._ready: list[tuple[int, str]] = []
        self._timers: list[tuple[int, int, tuple[str, ...]]] = []
        self._order_version = 0
        self._boundary_cache: tuple[int, int, int | None] | None = None

    # -- JSON -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "stream_id": self.stream.id,
            "account_id": self.stream.account_id,
            "filter_key_pattern": self.filter_key_pattern,
            "kind": self.kind,
            "status": self.status,
            "ack_wait_ms": self.ack_wait_ms,
            "max_ack_pending": self.max_ack_pending,
            "max_deliver": self.max_deliver,
            "max_waiting": self.max_waiting,
            "http_endpoint_id": self.http_endpoint_id,
            "inserted_at": format_seconds(self.inserted_at),
            "updated_at": format_seconds(self.updated_at),
        }

    # -- retention (§4.5) -----------------------------------------------------------------

    def deletes_acked_rows(self, now: int) -> bool:
        """Past the 5-minute mark, acks delete rows instead of keeping them."""
        bca = self.backfill_completed_at
        return bca is not None and bca + ACK_RETENTION_US < now

    def purge_if_due(self, now: int) -> None:
        """The background purge of kept acked rows, done lazily on the next access."""
        if self._acked_count and self.deletes_acked_rows(now):
            for row in [row for row in self.rows.values() if row.state == ACKED]:
                self._delete_row(row)

    # -- row bookkeeping ------------------------------------------------------------------

    def matches(self, key_tokens: list[str]) -> bool:
        return filter_matches(self.filter_tokens, key_tokens)

    def _push_ready(self, row: Row) -> None:
        heapq.heappush(self._ready, (row.message_seq, row.key))
        if len(self._ready) > 2 * len(self.rows) + 1024:
            self._rebuild_ready()

    def _rebuild_ready(self) -> None:
        """Drop stale heap entries once they outnumber the rows (bounded memory)."""
        self._ready = [(row.message_seq, row.key) for row in self.rows.values() if row.state != ACKED]
        heapq.heapify(self._ready)

    def _append_row(self, row: Row) -> None:
        self.rows[row.key] = row
        self.by_ack_id[row.ack_id] = row
        cache = self._boundary_cache
        if cache is not None and cache[2] is None:
            self._boundary_cache = None

    def _delete_row(self, row: Row) -> None:
        del self.rows[row.key]
        del self.by_ack_id[row.ack_id]
        if row.state == ACKED:
            self._acked_count -= 1
        self._order_version += 1

    def _set_state(self, row: Row, state: str) -> None:
        if row.state == ACKED:
            self._acked_count -= 1
        if state == ACKED:
            self._acked_count += 1
        row.state = state

    def backfill(self, messages: Any, now: int) -> None:
        """Create an available row for every matching message, oldest seq first (§4.8).

        The real server handles 10,000 messages synchronously and the rest in a background
        job; here it is all synchronous (a documented simplification the spec allows).
        """
        for message in messages:
            if self.matches(message.tokens):
                row = Row(message.key, new_uuid4(), message.seq)
                self._append_row(row)
                self._push_ready(row)
        self.backfill_completed_at = now

    def offer(self, message: Message, now: int) -> None:
        """Fan-out of an inserted or changed message (§4.7 table)."""
        row = self.rows.get(message.key)
        if row is None:
            row = Row(message.key, new_uuid4(), message.seq)
            self._append_row(row)
            self._push_ready(row)
            return
        if message.seq <= row.message_seq:
            return
        del self.rows[row.key]
        self.rows[row.key] = row
        self._order_version += 1
        row.message_seq = message.seq
        state = row.state
        if state == AVAILABLE:
            self._push_ready(row)
        elif state in IN_FLIGHT:
            row.state = PENDING_REDELIVERY
            if row.not_visible_until is not None and row.not_visible_until <= now:
                self._push_ready(row)
        else:  # acked, kept
            self._set_state(row, AVAILABLE)
            self._push_ready(row)

    def offer_many(self, messages: list[Message], now: int) -> None:
        """:meth:`offer` of each matching message of one publish, in the given (ascending seq)
        order, with the common case inlined: a key this consumer has no row for gets a new row,
        appended to the ready heap (its seq is the newest on the server, so it sorts after every
        entry and a plain append keeps the heap valid) with an ack id from one batch."""
        rows = self.rows
        if self._matches_all:
            matching = messages
        else:
            tokens = self.filter_tokens
            matching = [m for m in messages if filter_matches(tokens, m.key.split("."))]
        if not matching:
            return
        fresh = [m for m in matching if m.key not in rows]
        by_ack_id = self.by_ack_id
        ready = self._ready
        if len(fresh) != len(matching):
            # In the given order, as offer() one by one would: a new row and a known key's
            # update may come in any order within one publish.
            ack_ids = iter(new_uuid4_many(len(fresh)))
            for message in matching:
                key = message.key
                if key in rows:
                    self.offer(message, now)
                    continue
                row = Row(key, next(ack_ids), message.seq)
                rows[key] = row
                by_ack_id[row.ack_id] = row
                ready.append((message.seq, key))
        else:
            for message, ack_id in zip(fresh, new_uuid4_many(len(fresh))):
                key = message.key
                rows[key] = by_ack_id[ack_id] = Row(key, ack_id, message.seq)
                ready.append((message.seq, key))
        if fresh:
            cache = self._boundary_cache
            if cache is not None and cache[2] is None:
                self._boundary_cache = None
            if len(ready) > 2 * len(rows) + 1024:
                self._rebuild_ready()

    # -- receive (§4.1, §4.2) -------------------------------------------------------------

    def _window_boundary(self, exact: bool = True) -> int | None:
        """``message_seq`` of the last row inside the max_ack_pending window (None: no limit).

        Deleting a row or moving one to the end (a new version) only moves the boundary forward,
        and appending rows leaves it alone once there is one, so a cached boundary stays a lower
        bound: with ``exact=False`` it is returned as is, and receive asks for the exact one only
        when a row past it comes up. Otherwise a consumer whose acks delete rows (older than five
        minutes) walked ``max_ack_pending`` rows on every receive.
        """
        size = self.max_ack_pending
        cache = self._boundary_cache
        if cache is not None and cache[1] == size and (cache[0] == self._order_version or not exact):
            return cache[2]
        if len(self.rows) <= size:
            boundary = None
        else:
            boundary = next(itertools.islice(self.rows.values(), size - 1, None)).message_seq
        self._boundary_cache = (self._order_version, size, boundary)
        return boundary

    def receive(self, batch_size: int, now: int) -> list[tuple[str, Message]]:
        """Hand out up to ``batch_size`` rows; the caller has checked max_ack_pending >= 0."""
        self.purge_if_due(now)
        if self.max_ack_pending == 0 or not self.rows:
            return []
        rows = self.rows
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, keys = heapq.heappop(timers)
            for key in keys:
                row = rows.get(key)
                # A row of the key created since (after a delete) is only pushed if it is due too.
                if row is not None and row.state in IN_FLIGHT and row.not_visible_until == deadline:
                    self._push_ready(row)
        boundary = self._window_boundary(exact=False)
        ready = self._ready
        heappop = heapq.heappop
        chosen: list[Row] = []
        chosen_ids: set[int] = set()
        while ready and len(chosen) < batch_size:
            seq, key = ready[0]
            # Deliverable: the key's row is still at this seq, and available or timed out.
            row = rows.get(key)  # type: ignore[assignment]
            if row is None or row.message_seq != seq:
                heappop(ready)
                continue
            state = row.state
            if not (state == AVAILABLE or (state in IN_FLIGHT and row.not_visible_until <= now)):  # type: ignore[operator]
                heappop(ready)
                continue
            if boundary is not None and seq > boundary:
                boundary = self._window_boundary()
                if boundary is not None and seq > boundary:
                    break
            heappop(ready)
            if id(row) not in chosen_ids:
                chosen_ids.add(id(row))
                chosen.append(row)
        deadline = now + self.ack_wait_ms * 1000
        messages = self.stream.messages
        result = []
        append = result.append
        for row in chosen:
            row.state = DELIVERED
            row.deliver_count += 1
            row.not_visible_until = deadline
            row.last_delivered_at = now
            message = messages.get(row.key)
            # §4.1 step 5: a row whose seq no longer names the current version is marked
            # delivered but left out of the answer.
            if message is not None and message.seq == row.message_seq:
                append((row.ack_id, message))
        if chosen:
            heapq.heappush(timers, (deadline, next(_ticks), tuple([row.key for row in chosen])))
        return result

    def next_change_us(self, now: int) -> int | None:
        """The earliest moment after ``now`` when a receive could find work that no request in
        between brought: the first visibility deadline still in ``_timers`` (receive pops the
        passed ones; an entry whose rows were acked since only makes the caller look once
        more), or the purge of kept acked rows that may fill the window (§4.2). O(1): the push
        loop asks this every time it finds nothing to do."""
        moments = []
        if self._timers and self._timers[0][0] > now:
            moments.append(self._timers[0][0])
        if self._acked_count and self.backfill_completed_at is not None:
            purge = self.backfill_completed_at + ACK_RETENTION_US + 1
            if purge > now:
                moments.append(purge)
        return min(moments) if moments else None

    # -- ack and nack (§4.4, §4.6) --------------------------------------------------------

    def ack(self, ack_ids: list[str], now: int) -> None:
        self.purge_if_due(now)
        delete = self.deletes_acked_rows(now)
        for ack_id in ack_ids:
            row = self.by_ack_id.get(ack_id.lower())
            if row is None:
                continue
            if row.state == DELIVERED:
                if delete:
                    self._delete_row(row)
                else:
                    self._set_state(row, ACKED)
            elif row.state == PENDING_REDELIVERY:
                row.state = AVAILABLE
                row.not_visible_until = None
                self._push_ready(row)

    def nack(self, ack_ids: list[str], now: int) -> None:
        self.purge_if_due(now)
        for ack_id in ack_ids:
            row = self.by_ack_id.get(ack_id.lower())
            if row is None or row.state == ACKED:
                continue
            row.state = AVAILABLE
            row.not_visible_until = None
            self._push_ready(row)

    # -- read-only views (§3.10, §3.11) ---------------------------------------------------

    def info_for_key(self, key: str, now: int) -> dict[str, Any]:
        """One ``consumer_info`` entry of §3.10."""
        self.purge_if_due(now)
        row = self.rows.get(key)
        entry: dict[str, Any] = {
            "consumer_id": self.id,
            "consumer_name": self.name,
            "consumer_filter_key_pattern": self.filter_key_pattern,
        }
        if row is None:
            entry.update(
                state="acked" if self.deletes_acked_rows(now) else "available",
                ack_id=None,
                deliver_count=None,
                last_delivered_at=None,
                not_visible_until=None,
            )
            return entry
        if row.state == ACKED:
            shown = "acked"
        elif row.state in IN_FLIGHT and row.not_visible_until > now:  # type: ignore[operator]
            shown = "pending"
        else:
            shown = "available"
        entry.update(
            state=shown,
            ack_id=row.ack_id,
            deliver_count=row.deliver_count,
            last_delivered_at=format_micros(row.last_delivered_at),
            not_visible_until=format_micros(row.not_visible_until),
        )
        return entry
