"""The audit log: every request and its answer, appended to SQLite and chained by hashes.

One table of records, `seq` 1, 2, 3, ... Each record's `hash` is sha256 over the previous
record's hash, its own seq and its body (canonical JSON), so editing a body, deleting or
reordering rows breaks the chain at that row; the `head` row of the `meta` table, updated in the
same transaction, holds the last seq and hash, so cutting records off the end shows too (anchor
the head `audit verify` prints somewhere else to guard against a rewrite of the whole file).

Writes are durable before the answer leaves: WAL mode with synchronous=FULL, and the service
awaits the commit of a request's record before it responds. Concurrent requests share commits
(`AuditWriter` groups what arrives while one commit runs), so durability costs one fsync per
group, not per request. A record is written whole or not at all (one transaction).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.verify.pii import find_pii

GENESIS = "0" * 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_id TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_request ON records (request_id);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    resolution TEXT
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Opens (creating when new) an audit database in WAL mode with full fsync on commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    return db


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, seq: int, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{body}".encode()).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Record:
    seq: int
    at: str
    kind: str
    request_id: str
    body: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class Entry:
    """A record to append, and the review ticket it opens (written in the same transaction).

    Attributes:
        kind: "decide", "chat" or "review".
        request_id: the request's id (a review record carries its ticket's request id).
        body: the record's content.
        ticket: (ticket id, reason, the reviewer's material), or None.
    """

    kind: str
    request_id: str
    body: Mapping[str, Any]
    ticket: tuple[str, str, Mapping[str, Any]] | None = None


def append(db: sqlite3.Connection, entries: list[Entry]) -> list[Record]:
    """Appends entries in one transaction (and opens their tickets); returns their records."""
    db.execute("BEGIN IMMEDIATE")
    try:
        last = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0], last[1]) if last else (0, GENESIS)
        out = []
        for entry in entries:
            kind, request_id = entry.kind, entry.request_id
            seq += 1
            at = now()
            full = {"at": at, "kind": kind, "request_id": request_id, **entry.body}
            text = canonical(full)
            digest = chain_hash(prev, seq, text)
            db.execute(
                "INSERT INTO records (seq, at, kind, request_id, body, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, at, kind, request_id, text, prev, digest),
            )
            out.append(Record(seq, at, kind, request_id, full, digest))
            prev = digest
            if entry.ticket is not None:
                ticket_id, reason, material = entry.ticket
                db.execute(
                    "INSERT INTO tickets (ticket_id, request_id, created_at, status, reason, body)"
                    " VALUES (?, ?, ?, 'open', ?, ?)",
                    (ticket_id, request_id, at, reason, canonical(material)),
                )
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('head', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (f"{seq}:{prev}",),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return out


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found: ok, the records checked, the head, and the first break."""

    ok: bool
    records: int
    head: str
    problem: str = ""


def verify_chain(path: Path) -> ChainReport:
    """Recomputes every hash in order and checks the stored head."""
    if not path.is_file():
        return ChainReport(False, 0, GENESIS, f"{path}: no such audit database")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        prev, expected_seq = GENESIS, 0
        for seq, body, prev_hash, digest in db.execute(
            "SELECT seq, body, prev_hash, hash FROM records ORDER BY seq"
        ):
            expected_seq += 1
            if seq != expected_seq:
                return ChainReport(False, seq - 1, prev, f"record {expected_seq} is missing")
            if prev_hash != prev:
                return ChainReport(False, seq - 1, prev, f"record {seq}: prev_hash does not match")
            if chain_hash(prev, seq, body) != digest:
                return ChainReport(False, seq - 1, prev, f"record {seq}: its hash does not match")
            prev = digest
        row = db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        stored = row[0] if row else f"0:{GENESIS}"
        if stored != f"{expected_seq}:{prev}":
            return ChainReport(
                False, expected_seq, prev, f"the head says {stored.split(':')[0]} records"
            )
        return ChainReport(True, expected_seq, prev)
    finally:
        db.close()


def records(path: Path, kind: str | None = None) -> Iterator[Record]:
    """Every record in order (optionally of one kind)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        query = "SELECT seq, at, kind, request_id, body, hash FROM records"
        args: tuple[Any, ...] = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        for seq, at, k, request_id, body, digest in db.execute(query + " ORDER BY seq", args):
            yield Record(seq, at, k, request_id, json.loads(body), digest)
    finally:
        db.close()


class PiiPolicy:
    """Applies the recipe's `serve.pii` setting to what the log keeps.

    store keeps values; hash replaces a PII column's value, and PII found in free text, with
    "sha256:" + a salted hash (one random salt per database, so one person's records still link
    but no table of known values matches); redact replaces them with "[REDACTED]".
    """

    def __init__(self, mode: str, columns: tuple[str, ...], salt: str) -> None:
        self.mode = mode
        self.columns = frozenset(columns)
        self._salt = salt

    @classmethod
    def for_db(cls, db: sqlite3.Connection, mode: str, columns: tuple[str, ...]) -> PiiPolicy:
        db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('pii_salt', ?)",
            (secrets.token_hex(16),),
        )
        salt = db.execute("SELECT value FROM meta WHERE key = 'pii_salt'").fetchone()[0]
        return cls(mode, columns, salt)

    def value(self, value: Any) -> Any:
        if self.mode == "store" or value is None:
            return value
        if self.mode == "redact":
            return "[REDACTED]"
        digest = hashlib.sha256(f"{self._salt}:{value}".encode()).hexdigest()[:32]
        return f"sha256:{digest}"

    def case(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.value(v) if k in self.columns else v for k, v in case.items()}

    def text(self, text: str | None) -> str | None:
        if self.mode == "store" or not text:
            return text
        pieces, last = [], 0
        for hit in find_pii(text):
            if hit.start < last:
                continue
            pieces += [text[last : hit.start], str(self.value(hit.text))]
            last = hit.start + len(hit.text)
        return "".join(pieces) + text[last:]


class AuditWriter:
    """Appends records from an event loop, sharing commits between concurrent requests.

    One thread owns the connection; `write` queues an entry and resolves when the transaction
    holding it has committed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    async def write(self, entry: Entry) -> Record:
        """Resolves once the entry's record (and ticket) is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Record] = loop.create_future()
        self._queue.put((entry, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 512:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                written = append(self.db, [entry for entry, _, _ in batch])
            except Exception as error:  # every waiter learns its record was not written
                for *_, loop, future in batch:
                    loop.call_soon_threadsafe(_fail, future, error)
                continue
            for (*_, loop, future), record in zip(batch, written, strict=True):
                loop.call_soon_threadsafe(_succeed, future, record)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self.db.close()


def _succeed(future: asyncio.Future[Record], record: Record) -> None:
    if not future.done():
        future.set_result(record)


def _fail(future: asyncio.Future[Record], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])
