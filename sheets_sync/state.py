"""What sheets-sync remembers between cycles, in SQLite in the state folder.

- `written`: the managed values last written to each row (by Sync ID), so a value a person
  typed into a managed cell is told apart from the daemon's own; `writing`, those of a write
  under way.
- `written_before`: every distinct value written into each row on any day, so a restored older
  copy of the log is brought up to date, not taken for typing. A row gathers a few (a date and
  an action per step; flags by their shape), so it stays small on a large log used for years.
- `touches`: the touch log (SPEC §8), each prospect's touches and changes, only ever added
  to; `seen_cells`: each prospect's staff cells as the last finished sync saw them, which
  tell the next cycle what staff edited in between.
- `identities`: each Sync ID's identity fingerprint (a hash of the staff cells that name the
  prospect), so that a row whose staff cells were sorted away from its ID is found again.
- `digests`: each recipient's digest for each day, pending and then sent, under a Message-ID
  fixed before the send, so a day's digest goes out once, also across restarts; the
  manager's monthly report too, as `report-YYYY-MM` on the first day of the month it reports.
- `synced`: the version of the log that the last finished sync left it at, with the day and
  the settings it was synced for: the same log on the same day needs no sync.
- `digest_days`: the days whose digests are all done (sent, or given up at the cut-off).
- `health`: the last sync's time, outcome and error, since when syncing has been failing, and
  whether the manager was alerted; for `status` and the daemon's alerts.

The schema carries its version in `PRAGMA user_version`; each migration is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from types import TracebackType

from sheets_sync.core.outcomes import CarriedOut
from sheets_sync.core.sync import Managed, Written, written_values
from sheets_sync.core.touches import SeenCells, Touch
from sheets_sync.errors import SheetsSyncError
from sheets_sync.folders import private_folder

# Migration N brings a state file from schema version N-1 to N.
_MIGRATIONS = (
    """
CREATE TABLE written (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    next_touch TEXT NOT NULL,
    next_action TEXT NOT NULL,
    follow_up_status TEXT NOT NULL,
    PRIMARY KEY (source, sync_id)
);
CREATE TABLE digests (
    day TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    PRIMARY KEY (day, recipient)
);
""",
    """
CREATE TABLE synced (
    source TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    day TEXT NOT NULL,
    settings TEXT NOT NULL
);
""",
    # A digest may also have failed for good; each keeps its attempts and last error.
    """
CREATE TABLE digests_v3 (
    day TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (day, recipient)
);
INSERT INTO digests_v3 (day, recipient, message_id, status)
    SELECT day, recipient, message_id, status FROM digests;
DROP TABLE digests;
ALTER TABLE digests_v3 RENAME TO digests;
""",
    # The daemon: days whose digests are done, and how syncing has been going.
    """
CREATE TABLE digest_days (day TEXT PRIMARY KEY);
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_sync TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT NOT NULL,
    failing_since TEXT,
    alert_sent INTEGER NOT NULL
);
""",
    # How many prospects the last finished sync saw: a sudden drop stops the write.
    """
ALTER TABLE synced ADD COLUMN prospects INTEGER NOT NULL DEFAULT 0;
""",
    # What a write under way is writing: after a crash mid-write, its values are ours too.
    """
CREATE TABLE writing (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    next_touch TEXT NOT NULL,
    next_action TEXT NOT NULL,
    follow_up_status TEXT NOT NULL,
    PRIMARY KEY (source, sync_id)
);
""",
    # Digest keys follow the address (`owner-zoe-smith--3f2a9c1b`), no longer the name alone,
    # which several owners could share. Each digest keeps its address; a record without one
    # was made under a name key, and the engine hands it to its owner (`adopt_earlier_digest`).
    """
ALTER TABLE digests ADD COLUMN address TEXT;
""",
    # Every value written into a row on any day, not only the last: a restored older copy of
    # the log shows them, and they are the daemon's own, not typing. Seeded from what was
    # remembered; `OVERDUE 7d` is kept by its shape, as `written_values` does.
    """
CREATE TABLE written_before (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (source, sync_id, field, value)
) WITHOUT ROWID;
WITH remembered AS (SELECT * FROM written UNION ALL SELECT * FROM writing)
INSERT OR IGNORE INTO written_before
    SELECT source, sync_id, 'next_touch', next_touch FROM remembered
    UNION ALL SELECT source, sync_id, 'next_action', next_action FROM remembered
    UNION ALL SELECT source, sync_id, 'follow_up_status',
        CASE WHEN follow_up_status GLOB 'OVERDUE [0-9]*d'
            AND substr(follow_up_status, 9, length(follow_up_status) - 9) NOT GLOB '*[^0-9]*'
        THEN 'OVERDUE <n>d' ELSE follow_up_status END FROM remembered;
DELETE FROM written_before WHERE value = ''
""",
    # Who each Sync ID was given to (`sync.identity`): staff who sort the staff columns
    # alone move prospects away from their IDs, and these find them again.
    """
CREATE TABLE identities (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (source, sync_id)
) WITHOUT ROWID;
""",
    # The touch log (SPEC §8), only ever added to: triggers refuse to change or remove an
    # entry. `origin` is the entry's source (typed, edited), `source` the log as elsewhere.
    # And each prospect's staff cells as the last finished sync saw them (`SeenCells`).
    """
CREATE TABLE touches (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    happened TEXT NOT NULL,
    seen TEXT NOT NULL,
    origin TEXT NOT NULL,
    channel TEXT NOT NULL,
    note TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX touches_by_prospect ON touches (source, sync_id);
CREATE TRIGGER touches_kept BEFORE UPDATE ON touches
BEGIN SELECT RAISE(ABORT, 'the touch log is only added to'); END;
CREATE TRIGGER touches_not_removed BEFORE DELETE ON touches
BEGIN SELECT RAISE(ABORT, 'the touch log is only added to'); END;
CREATE TABLE seen_cells (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    last_touch TEXT NOT NULL,
    touches TEXT NOT NULL,
    status TEXT NOT NULL,
    snooze_until TEXT NOT NULL,
    owner TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (source, sync_id)
) WITHOUT ROWID
""",
    # Each typed outcome carried out (SPEC §8), recorded before the write that carries it
    # out: the same text on the row with the same cells is never logged twice (`plan_sync`).
    """
CREATE TABLE outcomes (
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    typed TEXT NOT NULL,
    before TEXT NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (source, sync_id, typed, before)
) WITHOUT ROWID;
""",
    # When each message was sent, in the clinic's time: `status` says when the manager got
    # last month's report (kept under the digests as `report-YYYY-MM`, SPEC §10).
    """
ALTER TABLE digests ADD COLUMN sent_at TEXT;
""",
)
SCHEMA_VERSION = len(_MIGRATIONS)


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one: split at each `;` that ends one (a trigger's
    body holds several)."""
    statements, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip("\n ;"):
                statements.append(pending)
            pending = ""
    return statements


class StateError(SheetsSyncError):
    """The state folder cannot be opened or used."""


class State:
    def __init__(self, folder: Path) -> None:
        path = folder / "state.sqlite3"
        try:
            private_folder(folder)
            # A service hands a clinic's state from job to job, one at a time, across its
            # worker threads: never two threads at once.
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, migration in enumerate(_MIGRATIONS[version:], start=version + 1):
                with self._transaction():
                    for statement in _statements(migration):  # executescript commits early
                        self.db.execute(statement)
                    self.db.execute(f"PRAGMA user_version={number}")
        except (OSError, sqlite3.Error) as exc:
            raise StateError(
                f"the state file {path} cannot be used ({exc}); check [daemon].state_dir, or "
                "move the file aside to start afresh (today's digests may then be sent again)"
            ) from exc
        if version > SCHEMA_VERSION:
            self.db.close()
            raise StateError(
                f"the state folder {folder} was written by a newer sheets-sync (schema {version}); "
                "upgrade sheets-sync, or use another [daemon].state_dir"
            )

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def release_memory(self) -> None:
        """Give back the pages SQLite keeps cached (up to 2 MB a connection), keeping the
        connection: a service of 500 clinics held 1 GB between their cycles otherwise
        (bench/group_capacity.py)."""
        self.db.execute("PRAGMA shrink_memory")

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # --- managed values ---------------------------------------------------------------

    def remembered(self, source: str) -> dict[str, Managed]:
        """What the daemon wrote to `source`'s managed cells, by Sync ID."""
        return self._managed("written", source)

    def writing(self, source: str) -> dict[str, Managed]:
        """What a write to `source` under way, or killed, was writing, by Sync ID."""
        return self._managed("writing", source)

    def _managed(self, table: str, source: str) -> dict[str, Managed]:
        rows = self.db.execute(
            "SELECT sync_id, next_touch, next_action, follow_up_status FROM "
            f"{table} WHERE source = ?",
            (source,),
        )
        return {sync_id: Managed(*values) for sync_id, *values in rows}

    def written_before(self, source: str) -> dict[str, frozenset[Written]]:
        """Every value the daemon wrote into `source`'s managed cells on any day, by Sync ID
        (see `written_values`)."""
        found: dict[str, set[Written]] = {}
        for sync_id, field, value in self.db.execute(
            "SELECT sync_id, field, value FROM written_before WHERE source = ?", (source,)
        ):
            found.setdefault(sync_id, set()).add((field, value))
        return {sync_id: frozenset(values) for sync_id, values in found.items()}

    def remember_writing(self, source: str, rows: Iterable[tuple[str, Managed]]) -> None:
        """Before a write: what it is about to write, until `remember` says it landed."""
        rows = list(rows)
        with self._transaction():
            self._replace("writing", source, rows)
            self._add_written_before(source, rows)

    def remember(
        self,
        source: str,
        rows: Iterable[tuple[str, Managed]],
        identities: Mapping[str, str] | None = None,
        *,
        seen: Mapping[str, SeenCells] | None = None,
        touches: Iterable[Touch] = (),
    ) -> None:
        """Replace what is remembered for `source` with `rows` (Sync ID, values), and, when
        given, each Sync ID's identity fingerprint and staff cells (`seen`); the write under
        way, if any, is over. The values join those written before, the `touches` the touch
        log: all at once, so that a crash before this leaves the next cycle to see the same
        edits, and one after it never sees them again."""
        rows = list(rows)
        with self._transaction():
            self._add_touches(source, touches)
            if seen is not None:
                self.db.execute("DELETE FROM seen_cells WHERE source = ?", (source,))
                self.db.executemany(
                    "INSERT INTO seen_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (source, sync_id, *(getattr(cells, f.name) for f in fields(SeenCells)))
                        for sync_id, cells in seen.items()
                    ),
                )
            self._replace("written", source, rows)
            self._replace("writing", source, ())
            self._add_written_before(source, rows)
            if identities is not None:
                self.db.execute("DELETE FROM identities WHERE source = ?", (source,))
                self.db.executemany(
                    "INSERT INTO identities VALUES (?, ?, ?)",
                    ((source, sync_id, fingerprint) for sync_id, fingerprint in identities.items()),
                )

    def seen_cells(self, source: str) -> dict[str, SeenCells]:
        """Each prospect's staff cells as the last finished sync of `source` saw them."""
        rows = self.db.execute(
            "SELECT sync_id, last_touch, touches, status, snooze_until, owner, channel"
            " FROM seen_cells WHERE source = ?",
            (source,),
        )
        return {sync_id: SeenCells(*cells) for sync_id, *cells in rows}

    # --- the touch log ----------------------------------------------------------------

    def record_touches(self, source: str, touches: Iterable[Touch]) -> None:
        """Add `touches` to `source`'s touch log (in their order); nothing there changes."""
        with self._transaction():
            self._add_touches(source, touches)

    def touches(
        self, source: str, sync_id: str | None = None, since: date | None = None
    ) -> list[Touch]:
        """`source`'s touch log, oldest first as logged: one prospect's or everyone's, those
        that happened on `since` or later, or all."""
        query = (
            "SELECT sync_id, kind, happened, seen, origin, channel, note, value FROM touches"
            " WHERE source = ?"
        )
        arguments: list[str] = [source]
        if sync_id is not None:
            query += " AND sync_id = ?"
            arguments.append(sync_id)
        if since is not None:
            query += " AND happened >= ?"
            arguments.append(since.isoformat())
        return [
            Touch(
                sync_id,
                kind,
                date.fromisoformat(happened),
                date.fromisoformat(seen),
                origin,
                channel,
                note,
                value,
            )
            for sync_id, kind, happened, seen, origin, channel, note, value in self.db.execute(
                query + " ORDER BY rowid", arguments
            )
        ]

    def _add_touches(self, source: str, touches: Iterable[Touch]) -> None:
        self.db.executemany(
            "INSERT INTO touches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    source,
                    t.sync_id,
                    t.kind,
                    t.happened.isoformat(),
                    t.seen.isoformat(),
                    t.source,
                    t.channel,
                    t.note,
                    t.value,
                )
                for t in touches
            ),
        )

    def carried_out(self, source: str) -> list[CarriedOut]:
        """Every typed outcome carried out in `source`, with the day it was first carried out."""
        rows = self.db.execute(
            "SELECT sync_id, typed, before, day FROM outcomes WHERE source = ?", (source,)
        )
        return [
            CarriedOut(sync_id, typed, before, date.fromisoformat(day))
            for sync_id, typed, before, day in rows
        ]

    def record_outcomes(
        self, source: str, outcomes: Iterable[CarriedOut], touches: Iterable[Touch]
    ) -> None:
        """Before the write that carries them out: the outcomes of a plan (`SyncPlan.outcomes`)
        and the touch-log entries they make (`SyncPlan.touches`: none for an outcome carried
        out again), in one transaction. One already recorded keeps its first day, unless it
        is the same words typed again later onto the same cells (after a restore): then the
        record takes the later day, so that a second read in the same sync knows it."""
        with self._transaction():
            self.db.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET day = excluded.day WHERE excluded.day > day",
                ((source, *done.key, done.day.isoformat()) for done in outcomes),
            )
            self._add_touches(source, touches)

    def identities(self, source: str) -> dict[str, str]:
        """Each Sync ID's identity fingerprint as the last finished sync of `source` saw it."""
        rows = self.db.execute(
            "SELECT sync_id, fingerprint FROM identities WHERE source = ?", (source,)
        )
        return dict(rows.fetchall())

    def unknown_sync_ids(self, sync_ids: Iterable[str]) -> set[str]:
        """Those of `sync_ids` this state folder never wrote into any log nor saw in one: a
        Sync ID goes into `writing` and `written_before` before it is ever written."""
        known = {
            sync_id
            for (sync_id,) in self.db.execute(
                "SELECT sync_id FROM written UNION SELECT sync_id FROM writing "
                "UNION SELECT sync_id FROM written_before UNION SELECT sync_id FROM identities"
            )
        }
        return set(sync_ids) - known

    def _add_written_before(self, source: str, rows: Iterable[tuple[str, Managed]]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO written_before VALUES (?, ?, ?, ?)",
            (
                (source, sync_id, field, value)
                for sync_id, managed in rows
                for field, value in written_values(managed)
            ),
        )

    def _replace(self, table: str, source: str, rows: Iterable[tuple[str, Managed]]) -> None:
        self.db.execute(f"DELETE FROM {table} WHERE source = ?", (source,))
        self.db.executemany(
            f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?)",
            (
                (source, sync_id, m.next_touch, m.next_action, m.follow_up_status)
                for sync_id, m in rows
            ),
        )

    # --- the last finished sync -----------------------------------------------------------

    def last_sync(self, source: str) -> tuple[str, date, str] | None:
        """(log version, day, settings key) the last finished sync of `source` left behind."""
        row = self.db.execute(
            "SELECT version, day, settings FROM synced WHERE source = ?", (source,)
        ).fetchone()
        return (row[0], date.fromisoformat(row[1]), row[2]) if row else None

    def record_sync(
        self, source: str, version: str, day: date, settings: str, prospects: int
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO synced VALUES (?, ?, ?, ?, ?)",
                (source, version, day.isoformat(), settings, prospects),
            )

    def last_prospects(self, source: str) -> int:
        """How many prospects the last finished sync of `source` saw (0: none yet)."""
        row = self.db.execute("SELECT prospects FROM synced WHERE source = ?", (source,)).fetchone()
        return int(row[0]) if row else 0

    # --- digests ------------------------------------------------------------------------

    def digest(self, day: date, recipient: str) -> DigestRecord | None:
        """The recipient's digest for the day, if one was begun."""
        row = self.db.execute(
            "SELECT message_id, status, attempts, error, sent_at FROM digests"
            " WHERE day = ? AND recipient = ?",
            (day.isoformat(), recipient),
        ).fetchone()
        if row is None:
            return None
        message_id, status, attempts, error, sent_at = row
        sent = datetime.fromisoformat(sent_at) if sent_at else None
        return DigestRecord(message_id, status, attempts, error, sent)

    def digest_pending(
        self, day: date, recipient: str, message_id: str, *, address: str = ""
    ) -> None:
        """About to send the digest to `address` under `message_id` (the same one on every
        retry)."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO digests (day, recipient, message_id, status, address)"
                " VALUES (?, ?, ?, 'pending', ?) ON CONFLICT (day, recipient)"
                " DO UPDATE SET message_id = excluded.message_id, status = 'pending',"
                " address = excluded.address",
                (day.isoformat(), recipient, message_id, address),
            )

    def adopt_earlier_digest(self, day: date, earlier: str, recipient: str, address: str) -> None:
        """The day's record kept under `earlier`, a key of schema 6 or before, becomes
        `recipient`'s (to `address`), unless `recipient` has a record of its own already."""
        with self._transaction():
            self.db.execute(
                "UPDATE digests SET recipient = ?, address = ? WHERE day = ? AND recipient = ?"
                " AND address IS NULL AND NOT EXISTS (SELECT 1 FROM digests AS own"
                " WHERE own.day = digests.day AND own.recipient = ? AND own.recipient != ?)",
                (recipient, address, day.isoformat(), earlier, recipient, earlier),
            )

    def undelivered_digests(self, day: date) -> list[tuple[str, str, str]]:
        """(recipient, address, why) for the day's digests that failed, or wait to be tried
        again after a failure: what `status` lists."""
        rows = self.db.execute(
            "SELECT recipient, coalesce(address, ''), error FROM digests"
            " WHERE day = ? AND error != '' AND status != 'sent' ORDER BY recipient",
            (day.isoformat(),),
        )
        return [(recipient, address, error) for recipient, address, error in rows]

    def first_digest_day(self, recipient: str) -> date | None:
        """The first day a digest for `recipient` was begun: since when sheets-sync has been
        mailing them."""
        (day,) = self.db.execute(
            "SELECT min(day) FROM digests WHERE recipient = ?", (recipient,)
        ).fetchone()
        return date.fromisoformat(day) if day else None

    def digest_sent(self, day: date, recipient: str, at: datetime | None = None) -> None:
        """Sent (`at`, in the clinic's time, when the caller knows it)."""
        self._digest_outcome(day, recipient, "sent", "", at)

    def digest_failed(self, day: date, recipient: str, error: str, *, for_good: bool) -> None:
        """An attempt failed: for good (no more tries today), or to be tried again."""
        self._digest_outcome(day, recipient, "failed" if for_good else "pending", error)

    def _digest_outcome(
        self, day: date, recipient: str, status: str, error: str, at: datetime | None = None
    ) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE digests SET status = ?, error = ?, attempts = attempts + 1,"
                " sent_at = ? WHERE day = ? AND recipient = ?",
                (status, error, at.isoformat() if at else None, day.isoformat(), recipient),
            )

    def digests_done(self, day: date) -> bool:
        found = self.db.execute("SELECT 1 FROM digest_days WHERE day = ?", (day.isoformat(),))
        return found.fetchone() is not None

    def mark_digests_done(self, day: date) -> None:
        with self._transaction():
            self.db.execute("INSERT OR IGNORE INTO digest_days VALUES (?)", (day.isoformat(),))

    # --- health -------------------------------------------------------------------------

    def health(self) -> Health | None:
        row = self.db.execute(
            "SELECT last_sync, outcome, error, failing_since, alert_sent FROM health"
        ).fetchone()
        if row is None:
            return None
        last, outcome, error, failing, alerted = row
        since = datetime.fromisoformat(failing) if failing else None
        return Health(datetime.fromisoformat(last), outcome, error, since, bool(alerted))

    def record_sync_outcome(
        self, now: datetime, outcome: str, problem: str = ""
    ) -> tuple[Health | None, Health]:
        """Record how a sync ended, whoever ran it (the daemon or `sheets-sync once`), for
        `status` and the alerts: `problem` is "" when it went well. A failure carries on the
        current run of failures (its start, whether the manager was told); a success ends it.
        Returns the health before and after."""
        with self._transaction():
            before = self.health()
            if not problem:
                after = Health(now, outcome, "", None, False)
            elif before is not None and before.failing_since is not None:
                after = Health(now, outcome, problem, before.failing_since, before.alert_sent)
            else:
                after = Health(now, outcome, problem, now, False)
            self._write_health(after)
        return before, after

    def record_health(self, health: Health) -> None:
        with self._transaction():
            self._write_health(health)

    def _write_health(self, health: Health) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO health VALUES (1, ?, ?, ?, ?, ?)",
            (
                health.last_sync.isoformat(),
                health.outcome,
                health.error,
                health.failing_since.isoformat() if health.failing_since else None,
                int(health.alert_sent),
            ),
        )


@dataclass(frozen=True)
class Health:
    """How syncing has been going: what `status` shows and the alerts are decided from."""

    last_sync: datetime  # when the last sync ended (UTC)
    outcome: str  # what it did, in a few words
    error: str  # its problem, for people ("" when it went well)
    failing_since: datetime | None  # the first failure of the current run of failures
    alert_sent: bool  # the manager has been told about this run of failures


@dataclass(frozen=True)
class DigestRecord:
    message_id: str
    status: str  # pending, sent or failed
    attempts: int
    error: str  # the last failure, for people
    sent_at: datetime | None = None  # when it was sent (not kept before schema 12)


class _Transaction:
    """Begin on entry; commit when the block ends, roll back when it raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
