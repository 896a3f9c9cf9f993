"""Search: document types register here; services record changes; the worker tails the change
log into one Whoosh index per document type; web processes only read the indexes.

Layout under INDEX_DIR:
    .writer.lock          flock held by whoever writes an index on this host (tail, rebuild's swap)
    .rebuild.lock         flock held by a running rebuild
    <type>                symlink to the current version directory (swapped atomically)
    <type>.<stamp>/       a version of the index (Whoosh files)
    <type>.new/           a rebuild in progress

Every index has the fields: id (unique, stored), num (the id as a sortable number), title and
body (jieba words through jieba.analyse.ChineseAnalyzer, stored for highlighting), tags (jieba
words), tag (each tag exactly, for filters), title_ng (1–2 character n-grams of the title) and
ngram (1–2 character n-grams of title, body and tags), and one exact ID field per filter facet
of the type. The n-gram fields are declared with NgramAnalyzer(1, 2); documents hand them the
grams ready-made by _grams() (per run of word characters, so no grams of punctuation).

A query term matches a document when its n-grams are all in the title or anywhere (so 锁
finds 死锁 although jieba keeps 死锁 as one word), or, when jieba keeps the term as one word,
when that word is in the title, the tags or the body; word matches weigh more (title most).
Whitespace-separated terms are AND-ed.
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator

import jieba
import sqlalchemy as sa
from flask import current_app
from jieba.analyse import ChineseAnalyzer
from whoosh import fields as wf
from whoosh import highlight as wh
from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, NgramAnalyzer, RegexTokenizer
from whoosh.index import LockError

from lms.db import utcnow, write_intent
from lms.errors import Conflict
from lms.extensions import db
from lms.search.models import ChangeOp, IndexCursor, SearchChange

log = logging.getLogger("lms.search")
jieba.setLogLevel(logging.WARNING)

#: user input longer than this is cut (characters)
MAX_QUERY_CHARS = 100
#: at most this many whitespace-separated terms are used
MAX_TERMS = 10
#: deepest result reachable by paging (page * per_page)
MAX_WINDOW = 10_000
MAX_PER_PAGE = 100
#: body text beyond this is neither indexed nor highlighted (characters)
MAX_BODY_CHARS = 200_000
#: change rows older than this and below every cursor are deleted by the tailer
KEEP_CHANGES = timedelta(days=7)
PRUNE_EVERY_SECONDS = 600
#: a cursor not moved for this long is not waited for by pruning
ABANDONED_CURSOR = timedelta(days=30)
#: idle searchers kept per index and process
POOL_SIZE = 16

BOOST_TITLE = 4.0
BOOST_TAGS = 2.0
BOOST_BODY = 1.5
BOOST_TITLE_NG = 1.5
BOOST_NGRAM = 1.0

RESERVED_FIELDS = frozenset({"id", "num", "title", "body", "tags", "tag", "title_ng", "ngram"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# -- the public types --------------------------------------------------------------------------

@dataclass
class Document:
    """What the index holds of one row. Plain text only (strip HTML before)."""
    title: str
    #: all other searchable text (summary, options, 解析 ...)
    body: str = ""
    #: knowledge points / topics: searchable, and filterable as filters={"tags": ...}
    tags: list[str] = field(default_factory=list)
    #: exact-match facets, e.g. {"module": "theory", "status": "published"}
    filters: dict[str, str | int | list[str]] = field(default_factory=dict)


@dataclass
class DocType:
    #: "course", "question": lower-case letters, digits, underscore
    name: str
    #: names of the filter facets, stored as exact ID fields
    filter_fields: tuple[str, ...]
    #: documents for ids; None (or a missing key) = not indexable (deleted, hidden)
    load: Callable[[list[int]], dict[int, Document | None]]
    #: every id, for rebuild
    all_ids: Callable[[], Iterable[int]]


@dataclass
class Hit:
    doc_id: int
    score: float
    #: field ("title", "body") → HTML: matches in <mark>…</mark>, everything else escaped.
    #: Only fields with a match appear.
    highlights: dict[str, str]


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    page: int
    per_page: int


# -- registry ----------------------------------------------------------------------------------

_DOC_TYPES: dict[str, DocType] = {}


def register_doc_type(doc_type: DocType) -> None:
    """Domains register their document types at import; registering a name again replaces it."""
    if not _NAME_RE.match(doc_type.name):
        raise ValueError(f"bad document type name {doc_type.name!r}")
    for name in doc_type.filter_fields:
        if not _NAME_RE.match(name) or name in RESERVED_FIELDS:
            raise ValueError(f"bad filter field name {name!r} for {doc_type.name!r}")
    doc_type.filter_fields = tuple(doc_type.filter_fields)
    _DOC_TYPES[doc_type.name] = doc_type


def registered_doc_types() -> list[str]:
    return sorted(_DOC_TYPES)


def _doc_type(name: str) -> DocType:
    try:
        return _DOC_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown document type {name!r}") from None


# -- the change log ----------------------------------------------------------------------------

def record_change(doc_type: str, doc_id: int, *, now: datetime, deleted: bool = False) -> None:
    """Append to the change log in the caller's transaction (flush only, never commit), so the
    index follows exactly the changes that commit. The tailer always asks the type's load() for
    the row's current state; `deleted` is kept in the log for the record."""
    _doc_type(doc_type)
    db.session.add(SearchChange(doc_type=doc_type, doc_id=int(doc_id),
                                op=ChangeOp.DELETE if deleted else ChangeOp.UPSERT,
                                created_at=now))
    db.session.flush()


# -- places and locks ---------------------------------------------------------------------------

def _index_dir() -> Path:
    return Path(current_app.config["INDEX_DIR"])


def cursor_name() -> str:
    """One cursor per host and index folder (at scale every web host tails into its own)."""
    name = f"{socket.gethostname()}:{_index_dir().resolve()}"
    if len(name) > 100:
        digest = hashlib.sha1(name.encode()).hexdigest()[:16]
        name = f"{name[:83]}:{digest}"
    return name


@contextlib.contextmanager
def _flock(path: Path, *, blocking: bool) -> Iterator[bool]:
    """An exclusive flock on `path`: excludes other processes and other threads alike (each
    call opens its own file description). Yields False when not blocking and busy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            locked = False
        else:
            locked = True
        try:
            yield locked
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Whoosh makes millions of short-lived objects while indexing; the cyclic collector's
    passes over them cost about a fifth of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _current_version(link: Path) -> Path | None:
    """The version directory the type's symlink points at, if there is an index."""
    try:
        target = Path(os.path.realpath(link))
    except OSError:
        return None
    if not target.is_dir() or not windex.exists_in(str(target)):
        return None
    return target


def _new_version_name(doc_type: str) -> str:
    return f"{doc_type}.{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"


def _point(link: Path, version: Path) -> None:
    """Point the type's symlink at `version` in one atomic rename."""
    tmp = link.with_name(f".{link.name}.{secrets.token_hex(4)}.link")
    os.symlink(version.name, tmp)
    try:
        if link.is_dir() and not link.is_symlink():  # an index made by hand: move it aside
            os.rename(link, link.with_name(_new_version_name(link.name)))
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- schema and documents ----------------------------------------------------------------------

_WORDS = ChineseAnalyzer()
_NGRAMS = NgramAnalyzer(1, 2)


def _schema(doc_type: DocType) -> wf.Schema:
    facets = {name: wf.ID() for name in doc_type.filter_fields}
    return wf.Schema(
        id=wf.ID(unique=True, stored=True),
        num=wf.NUMERIC(int, bits=64, sortable=True, signed=True),
        title=wf.TEXT(analyzer=ChineseAnalyzer(), stored=True, phrase=False),
        body=wf.TEXT(analyzer=ChineseAnalyzer(), stored=True, phrase=False),
        tags=wf.TEXT(analyzer=ChineseAnalyzer(), phrase=False),
        tag=wf.ID(),
        title_ng=wf.TEXT(analyzer=NgramAnalyzer(1, 2), phrase=False),
        ngram=wf.TEXT(analyzer=NgramAnalyzer(1, 2), phrase=False),
        **facets,
    )


_GRAM_RUN_RE = re.compile(r"\w+")


def _fold(text: str) -> str:
    """For n-grams: full-width forms folded (ＴＣＰ → TCP), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _grams(text: str) -> list[str]:
    """The 1- and 2-character n-grams of each run of word characters (letters, digits, CJK;
    whitespace and punctuation end a run), as NgramAnalyzer(1, 2) would make of each run.
    Documents pass these lists to Whoosh ready-made: 10–15 % faster indexing than running the
    analyzer, and no grams of punctuation."""
    out: list[str] = []
    for run in _GRAM_RUN_RE.findall(_fold(text)):
        out.extend(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _query_grams(term: str) -> list[str]:
    """What a term must contain, as n-grams: a one-character run itself, a longer run as its
    consecutive bigrams (all required: a substring match, up to the bigrams' order)."""
    out: list[str] = []
    for run in _GRAM_RUN_RE.findall(_fold(term)):
        out.extend([run] if len(run) <= 2 else [run[i:i + 2] for i in range(len(run) - 1)])
    return list(dict.fromkeys(out))


def _facet_values(value) -> list[str]:
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    return [str(v) for v in values if v is not None and str(v) != ""]


def _fields(doc_type: DocType, doc_id: int, document: Document) -> dict:
    title = document.title or ""
    body = (document.body or "")[:MAX_BODY_CHARS]
    tags = [str(t).strip() for t in document.tags or () if str(t).strip()]
    tags_text = "\n".join(tags)
    values = dict(id=str(doc_id), num=int(doc_id), title=title, body=body, tags=tags_text,
                  tag=tags, title_ng=_grams(title), ngram=_grams("\n".join((title, body, tags_text))))
    for name, value in (document.filters or {}).items():
        if name in doc_type.filter_fields:
            values[name] = _facet_values(value)
        else:
            log.warning("search: %s %s has filter %r not declared in filter_fields",
                        doc_type.name, doc_id, name)
    return values


def _open_for_writing(index_dir: Path, doc_type: DocType):
    """The type's index, created on first use; facets added since it was built are added."""
    link = index_dir / doc_type.name
    version = _current_version(link)
    schema = _schema(doc_type)
    if version is None:
        version = index_dir / _new_version_name(doc_type.name)
        version.mkdir(parents=True)
        ix = windex.create_in(str(version), schema)
        _point(link, version)
        return ix
    ix = windex.open_dir(str(version))
    missing = [name for name in schema.names() if name not in ix.schema]
    if missing:
        writer = ix.writer()
        for name in missing:
            writer.add_field(name, schema[name])
        writer.commit()
        log.warning("search: added fields %s to the %s index; run `lms search rebuild --type %s` "
                    "so that older documents have them", missing, doc_type.name, doc_type.name)
    return ix


# -- reading the change log ----------------------------------------------------------------------

@dataclass
class _Snapshot:
    """PostgreSQL's view of running transactions when the change rows were read."""
    xmax: int
    running: frozenset[int]

    def finished(self, xid: int) -> bool:
        return xid < self.xmax and xid not in self.running


#: per cursor: first id of a gap → transactions running when the gap was first seen
_GAP_WATCH: dict[str, dict[int, frozenset[int]]] = {}
_GAP_LOCK = threading.Lock()


def _read_changes(after: int, limit: int | None) -> tuple[list, _Snapshot | None]:
    """Change rows with id > after, in order, and (on PostgreSQL) the snapshot they were read
    with: the same statement reports the snapshot, so visibility and running transactions agree."""
    columns = [SearchChange.id, SearchChange.doc_type, SearchChange.doc_id]
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        columns.append(sa.cast(sa.func.txid_current_snapshot(), sa.Text))
    stmt = sa.select(*columns).where(SearchChange.id > after).order_by(SearchChange.id)
    if limit:
        stmt = stmt.limit(limit)
    rows = db.session.execute(stmt).all()
    if not postgres or not rows:
        return rows, None
    xmin, xmax, running = rows[0][3].split(":")
    own = db.session.execute(sa.select(sa.func.txid_current_if_assigned())).scalar()
    running_ids = frozenset(int(x) for x in running.split(",") if x) - {own}
    return rows, _Snapshot(int(xmax), running_ids)


def _advance(name: str, cursor: int, ids: list[int], snapshot: _Snapshot | None) -> int:
    """How far the cursor may move over `ids` (ascending, all > cursor).

    A missing id is a change rolled back, or one whose transaction has not committed yet
    (PostgreSQL hands out ids before commit, so a later id can commit first). The cursor stops
    before a gap until every transaction that was running when the gap was first seen has
    ended; the rows after it are applied meanwhile, and again later (applying is idempotent).
    SQLite commits one writer at a time, so there a gap is always final.
    """
    with _GAP_LOCK:
        watch = _GAP_WATCH.setdefault(name, {})
        expected, reached = cursor + 1, cursor
        for change_id in ids:
            if change_id > expected and snapshot is not None:
                seen_with = watch.get(expected)
                if seen_with is None:
                    if snapshot.running:
                        watch[expected] = snapshot.running
                        break
                elif all(snapshot.finished(x) for x in seen_with):
                    del watch[expected]
                else:
                    break
            reached, expected = change_id, change_id + 1
        for start in [s for s in watch if s <= reached]:
            del watch[start]
        return reached


def _get_cursor(name: str) -> int:
    value = db.session.execute(
        sa.select(IndexCursor.last_change_id).where(IndexCursor.name == name)).scalar()
    return int(value or 0)


def _set_cursor(name: str, value: int, now: datetime) -> None:
    row = db.session.get(IndexCursor, name)
    if row is None:
        db.session.add(IndexCursor(name=name, last_change_id=value, updated_at=now))
    else:
        row.last_change_id = value
        row.updated_at = now
    db.session.flush()


# -- the tailer --------------------------------------------------------------------------------

_LAST_PRUNE: dict[str, float] = {}


def tail(now: datetime, *, batch: int = 500) -> int:
    """Apply new changes to this host's indexes; returns how many documents were applied.

    The worker's interval task. Holds INDEX_DIR/.writer.lock (another tailer on this host
    holding it means this call returns 0 at once). Per batch: read the changes after the cursor,
    de-duplicate, load the documents, end the reading transaction, update the index with one
    writer and commit it, then move the cursor in its own short write transaction (commits).
    Dying between the two re-applies the batch next time, which changes nothing.
    """
    index_dir = _index_dir()
    name = cursor_name()
    applied = 0
    with _flock(index_dir / ".writer.lock", blocking=False) as locked:
        if not locked:
            return 0
        cursor = _get_cursor(name)
        read_from = cursor
        moving = True
        done = _applied_above_cursor(name, index_dir)
        while True:
            with write_intent(False):
                rows, snapshot = _read_changes(read_from, batch)
                if not rows:
                    db.session.commit()
                    break
                ids = [row[0] for row in rows]
                reached = _advance(name, cursor, ids, snapshot) if moving else cursor
                moving = moving and reached == ids[-1]
                documents = _load_changed([row for row in rows if row[0] not in done])
                db.session.commit()  # only reads so far: ends the reading transaction
            try:
                applied += _apply(index_dir, documents)
            except LockError:  # Whoosh's own lock: a writer that bypassed ours; next time
                log.warning("search: an index is locked by a writer outside the tailer")
                break
            done = _applied_above_cursor(name, index_dir)
            done.update(ids)
            if reached != cursor:
                with write_intent(True):
                    _set_cursor(name, reached, now)
                    db.session.commit()
                cursor = reached
                done.difference_update([i for i in done if i <= cursor])
            read_from = ids[-1]
            if len(rows) < batch:
                break
        _maybe_prune(name, now)
    return applied


#: per cursor: (the index versions, change ids above the cursor already applied to them).
#: While a gap holds the cursor back (PostgreSQL), the changes after it are not applied again
#: every tick; a rebuild's new versions (from any process) start the set afresh.
_APPLIED: dict[str, tuple[tuple[str, ...], set[int]]] = {}


def _applied_above_cursor(name: str, index_dir: Path) -> set[int]:
    versions = tuple(os.path.realpath(index_dir / t) for t in registered_doc_types())
    state = _APPLIED.get(name)
    if state is None or state[0] != versions:
        state = _APPLIED[name] = (versions, set())
    return state[1]


def _load_changed(rows) -> dict[str, dict[int, Document | None]]:
    wanted: dict[str, list[int]] = {}
    for row in rows:
        ids = wanted.setdefault(row[1], [])
        if row[2] not in ids:
            ids.append(row[2])
    documents: dict[str, dict[int, Document | None]] = {}
    for type_name, ids in wanted.items():
        doc_type = _DOC_TYPES.get(type_name)
        if doc_type is None:
            log.warning("search: %d change(s) of unregistered type %r skipped", len(ids), type_name)
            continue
        loaded = doc_type.load(ids)
        documents[type_name] = {doc_id: loaded.get(doc_id) for doc_id in ids}
    return documents


def _apply(index_dir: Path, documents: dict[str, dict[int, Document | None]]) -> int:
    """Write the documents (None = delete) with one writer per type; the caller holds the lock."""
    count = 0
    for type_name, docs in documents.items():
        doc_type = _DOC_TYPES[type_name]
        ix = _open_for_writing(index_dir, doc_type)
        writer = ix.writer()
        try:
            with _gc_paused():
                for doc_id, document in docs.items():
                    if document is None:
                        writer.delete_by_term("id", str(doc_id))
                    else:
                        writer.update_document(**_fields(doc_type, doc_id, document))
                writer.commit()
        except BaseException:
            writer.cancel()
            raise
        finally:
            ix.close()
        count += len(docs)
    return count


def _maybe_prune(name: str, now: datetime) -> None:
    """Delete change rows older than KEEP_CHANGES that every live cursor has passed (a cursor
    that has not moved for ABANDONED_CURSOR is a host gone for good: it would need a rebuild
    anyway). The newest row always stays: SQLite numbers a new row max(id) + 1, and an empty
    table would start again at 1, below the cursors."""
    last = _LAST_PRUNE.get(name)
    if last is not None and time.monotonic() - last < PRUNE_EVERY_SECONDS:
        return
    _LAST_PRUNE[name] = time.monotonic()
    with write_intent(True):
        lowest = db.session.execute(
            sa.select(sa.func.min(IndexCursor.last_change_id))
            .where(IndexCursor.updated_at >= now - ABANDONED_CURSOR)).scalar()
        newest = db.session.execute(sa.select(sa.func.max(SearchChange.id))).scalar()
        if lowest and newest:
            db.session.execute(sa.delete(SearchChange).where(
                SearchChange.id <= lowest, SearchChange.id < newest,
                SearchChange.created_at < now - KEEP_CHANGES))
        db.session.commit()


# -- rebuild -----------------------------------------------------------------------------------

def rebuild(doc_type: str | None = None, *,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild one type's index (or every registered type's) from the database; returns the
    number of documents indexed.

    The latest change id is taken first; each index is built in INDEX_DIR/<type>.new and swapped
    in by an atomic symlink rename under the writer lock. The cursor is then set to that id when
    every type was rebuilt, or to the lower of it and the cursor when one type was (the other
    types still need the changes in between). Changes after it are re-applied by the tailer.
    Commits (a command, not a service).
    """
    types = [_doc_type(doc_type)] if doc_type else [_DOC_TYPES[n] for n in registered_doc_types()]
    index_dir = _index_dir()
    index_dir.mkdir(parents=True, exist_ok=True)
    name = cursor_name()
    with _flock(index_dir / ".rebuild.lock", blocking=False) as locked:
        if not locked:
            raise Conflict("search_rebuild_running")
        with write_intent(False):
            start = _get_cursor(name)
            rows, snapshot = _read_changes(start, None)
            high_water = _advance(name, start, [row[0] for row in rows], snapshot)
            all_ids = {t.name: list(dict.fromkeys(int(i) for i in t.all_ids())) for t in types}
            db.session.commit()
        total = sum(len(ids) for ids in all_ids.values())
        done = indexed = 0
        if progress:
            progress(0, total)
        built: dict[str, Path] = {}
        for t in types:
            staging = index_dir / f"{t.name}.new"
            indexed += _build(t, staging, all_ids[t.name], done, total, progress)
            done += len(all_ids[t.name])
            built[t.name] = staging
        with _flock(index_dir / ".writer.lock", blocking=True):
            for type_name, staging in built.items():
                version = index_dir / _new_version_name(type_name)
                os.rename(staging, version)
                _point(index_dir / type_name, version)
            with write_intent(True):
                current = _get_cursor(name)
                whole = {t.name for t in types} >= set(_DOC_TYPES)
                _set_cursor(name, high_water if whole else min(current, high_water), utcnow())
                db.session.commit()
        for type_name in built:
            _remove_old_versions(index_dir, type_name)
    return indexed


def _build(doc_type: DocType, staging: Path, ids: list[int], done: int, total: int,
           progress: Callable[[int, int], None] | None) -> int:
    """A fresh index of `ids` in `staging` (removed first, and again on failure)."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    ix = windex.create_in(str(staging), _schema(doc_type))
    writer = ix.writer(limitmb=256)
    indexed = 0
    try:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            with write_intent(False):
                loaded = doc_type.load(chunk)
                db.session.commit()
            with _gc_paused():
                for doc_id in chunk:
                    document = loaded.get(doc_id)
                    if document is not None:
                        writer.add_document(**_fields(doc_type, doc_id, document))
                        indexed += 1
            done += len(chunk)
            if progress:
                progress(done, total)
        with _gc_paused():
            writer.commit()
    except BaseException:
        writer.cancel()
        ix.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ix.close()
    return indexed


def _remove_old_versions(index_dir: Path, type_name: str) -> None:
    """Keep the current version and the one before it (searchers may still read it)."""
    current = Path(os.path.realpath(index_dir / type_name)).name
    pattern = re.compile(rf"^{re.escape(type_name)}\.\d{{14}}-[0-9a-f]{{6}}$")
    versions = sorted(p.name for p in index_dir.iterdir() if pattern.match(p.name))
    older = [v for v in versions if v != current]
    for stale in older[:-1]:
        shutil.rmtree(index_dir / stale, ignore_errors=True)


# -- status ------------------------------------------------------------------------------------

@dataclass
class IndexStatus:
    doc_type: str
    documents: int | None  # None: no index yet
    cursor: int
    pending: int


def status() -> list[IndexStatus]:
    """Per registered type: documents in this host's index, the cursor, changes not applied."""
    index_dir = _index_dir()
    cursor = _get_cursor(cursor_name())
    pending = dict(db.session.execute(
        sa.select(SearchChange.doc_type, sa.func.count()).where(SearchChange.id > cursor)
        .group_by(SearchChange.doc_type)).all())
    out = []
    for type_name in registered_doc_types():
        version = _current_version(index_dir / type_name)
        documents = None
        if version is not None:
            ix = windex.open_dir(str(version))
            documents = ix.doc_count()
            ix.close()
        out.append(IndexStatus(type_name, documents, cursor, int(pending.get(type_name, 0))))
    return out


# -- readers -----------------------------------------------------------------------------------

class _Readers:
    """Searchers of one index version, pooled per process: a thread takes one (a new one if
    the index has changed since it was opened), searches, and gives it back. A Whoosh searcher
    is never used by two threads at once."""

    def __init__(self, version: Path):
        self.version = version
        self.ix = windex.open_dir(str(version))
        self.idle: list = []
        self.lock = threading.Lock()
        self.retired = False

    def take(self):
        with self.lock:
            searcher = self.idle.pop() if self.idle else None
        if searcher is not None and not searcher.up_to_date():
            # Not searcher.refresh(): it reuses the segment readers it had, and a reused
            # segment keeps its old set of deleted documents (edits and deletions would
            # reappear). A new searcher costs a few milliseconds, once per index change.
            searcher.close()
            searcher = None
        return searcher if searcher is not None else self.ix.searcher()

    def give(self, searcher) -> None:
        with self.lock:
            if not self.retired and len(self.idle) < POOL_SIZE:
                self.idle.append(searcher)
                return
        searcher.close()

    def retire(self) -> None:
        with self.lock:
            self.retired = True
            idle, self.idle = self.idle, []
        for searcher in idle:
            searcher.close()


_READERS: dict[str, _Readers] = {}
_READERS_LOCK = threading.Lock()


def _readers_for(link: Path) -> _Readers | None:
    """The pool for the version the type's symlink points at now (one readlink per query;
    a new version is checked and opened once)."""
    key = str(link)
    with _READERS_LOCK:
        readers = _READERS.get(key)
    if readers is not None and readers.version == Path(os.path.realpath(link)):
        return readers
    version = _current_version(link)
    with _READERS_LOCK:
        readers = _READERS.get(key)
        if version is None:
            if readers is not None:
                _READERS.pop(key).retire()
            return None
        if readers is not None and readers.version == version:
            return readers
        if readers is not None:
            readers.retire()
        readers = _READERS[key] = _Readers(version)
        return readers


def close_readers() -> None:
    """Close every pooled searcher of this process (tests, shutdown)."""
    with _READERS_LOCK:
        readers = list(_READERS.values())
        _READERS.clear()
    for r in readers:
        r.retire()


# -- queries -----------------------------------------------------------------------------------

class _WindowFragmenter(wh.Fragmenter):
    """Fragments of the text around matches: the tokens are only the matches (see
    _mark_analyzer), so the context is counted in characters, `surround` on each side, and
    matches closer together than `maxchars` share a fragment."""

    def __init__(self, maxchars: int = 160, surround: int = 40):
        self.maxchars = maxchars
        self.surround = surround

    def fragment_tokens(self, text, tokens):
        group: list = []
        floor = 0  # a fragment starts after the previous one ends
        for token in tokens:
            if group and token.endchar - group[0].startchar > self.maxchars:
                fragment = self._fragment(text, group, floor)
                floor = fragment.endchar
                yield fragment
                group = []
            group.append(token.copy())
        if group:
            yield self._fragment(text, group, floor)

    def _fragment(self, text, group, floor: int):
        start = max(floor, group[0].startchar - self.surround)
        end = min(len(text), group[-1].endchar + self.surround)
        return wh.Fragment(text, group, startchar=start, endchar=end)


class _MarkFormatter(wh.HtmlFormatter):
    """<mark>…</mark> around matches; everything else HTML-escaped."""
    template = "<mark>%(t)s</mark>"

    def __init__(self):
        super().__init__(tagname="mark", between="…")

    def _text(self, text):
        return wh.htmlescape(text, quote=True)


def _terms(text: str | None) -> list[str]:
    """The user's words: cut at MAX_QUERY_CHARS, control characters dropped, lower-cased,
    split at whitespace, repeated ones once. Never parsed as query syntax."""
    text = _CONTROL_RE.sub(" ", str(text or "")[:MAX_QUERY_CHARS])
    out: list[str] = []
    for term in text.lower().split():
        if term not in out:
            out.append(term)
    return out[:MAX_TERMS]


def _term_query(term: str) -> tuple[wq.Query | None, list[str]]:
    """One term. When jieba keeps it as one word: that word in the title, tags or body
    (boosted) OR its n-grams in the title or anywhere. When jieba splits it (集体协商 → 集体,
    协商): its n-grams decide (the words could be far apart), and the words only add to the
    score. Returns the query and the strings to highlight."""
    words = [t.text for t in _WORDS(term, mode="query")]
    words = list(dict.fromkeys(w for w in words if w))
    grams = _query_grams(term)
    gram_parts = [wq.Term(fieldname, grams[0], boost=boost) if len(grams) == 1
                  else wq.And([wq.Term(fieldname, g) for g in grams], boost=boost)
                  for fieldname, boost in (("title_ng", BOOST_TITLE_NG), ("ngram", BOOST_NGRAM))
                  ] if grams else []
    word_fields = (("title", BOOST_TITLE), ("tags", BOOST_TAGS), ("body", BOOST_BODY))
    if len(words) > 1 and gram_parts:
        boosters = [wq.Or([wq.Term(fieldname, w) for w in words], boost=boost)
                    for fieldname, boost in word_fields]
        return wq.AndMaybe(wq.Or(gram_parts), wq.Or(boosters)), [term]  # mark the phrase
    if len(words) > 1:  # no n-grams (cannot happen for text with word characters)
        word_parts = [wq.And([wq.Term(fieldname, w) for w in words], boost=boost)
                      for fieldname, boost in word_fields]
    else:
        word_parts = [wq.Term(fieldname, words[0], boost=boost)
                      for fieldname, boost in word_fields] if words else []
    parts = word_parts + gram_parts
    if not parts:
        return None, []
    return (wq.Or(parts) if len(parts) > 1 else parts[0]), [term, *words]


def _filter_query(doc_type: DocType, filters: dict | None) -> tuple[wq.Query | None, bool]:
    """Exact facets, AND-ed; a list means any of its values. None or "" = no condition;
    an empty list matches nothing (returns impossible=True). Unknown facet names are a bug."""
    clauses: list[wq.Query] = []
    for name, value in (filters or {}).items():
        fieldname = "tag" if name == "tags" else name
        if fieldname != "tag" and name not in doc_type.filter_fields:
            raise ValueError(f"{doc_type.name!r} has no filter {name!r}")
        if value is None or (isinstance(value, str) and value == ""):
            continue
        values = _facet_values(value)
        if not values:
            return None, True
        clauses.append(wq.Term(fieldname, values[0]) if len(values) == 1
                       else wq.Or([wq.Term(fieldname, v) for v in values]))
    if not clauses:
        return None, False
    return (clauses[0] if len(clauses) == 1 else wq.And(clauses)), False


def query(doc_type: str, text: str, *, filters: dict[str, str | int | list] | None = None,
          page: int = 1, per_page: int = 20, highlight: bool = True) -> SearchResult:
    """Search one type's index: every whitespace-separated term must match (in jieba words or
    in n-grams), ranked by relevance (title above tags above body). Empty text with filters
    lists the filtered documents, newest id first; empty text without filters finds nothing.
    No index yet: an empty result."""
    dt = _doc_type(doc_type)
    page = max(1, int(page))
    per_page = min(max(1, int(per_page)), MAX_PER_PAGE)
    empty = SearchResult(total=0, hits=[], page=page, per_page=per_page)
    filter_q, impossible = _filter_query(dt, filters)
    if impossible:
        return empty
    term_queries, marks = [], []
    for term in _terms(text):
        q, strings = _term_query(term)
        if q is not None:
            term_queries.append(q)
            marks.extend(strings)
    if not term_queries and filter_q is None:
        return empty
    link = _index_dir() / dt.name
    for attempt in (1, 2):
        readers = _readers_for(link)
        if readers is None:
            return empty
        searcher = None
        try:
            searcher = readers.take()
            return _run(searcher, term_queries, filter_q, marks if highlight else [], page,
                        per_page)
        except (OSError, windex.IndexError):
            # the version vanished under us (a rebuild removed it): reopen once
            readers.retire()
            with _READERS_LOCK:
                if _READERS.get(str(link)) is readers:
                    del _READERS[str(link)]
            if attempt == 2:
                raise
        finally:
            if searcher is not None:
                readers.give(searcher)
    return empty  # pragma: no cover


def _run(searcher, term_queries, filter_q, marks, page, per_page) -> SearchResult:
    limit = min(page * per_page, MAX_WINDOW)
    first = (page - 1) * per_page
    if term_queries:
        q = term_queries[0] if len(term_queries) == 1 else wq.And(term_queries)
        results = searcher.search(q, filter=filter_q, limit=limit)
    else:
        results = searcher.search(filter_q, limit=limit, sortedby="num", reverse=True)
    total = len(results)
    hits = []
    if first < limit:
        analyzer = _mark_analyzer(marks) if marks else None
        for hit in results[first:limit]:
            stored = hit.fields()
            highlights = {}
            if analyzer is not None:
                highlights = _highlights(stored, analyzer, marks)
            score = float(hit.score or 0.0) if term_queries else 0.0  # listing: no score
            hits.append(Hit(doc_id=int(stored["id"]), score=score, highlights=highlights))
    return SearchResult(total=total, hits=hits, page=page, per_page=per_page)


def _mark_analyzer(marks: list[str]):
    """Tokens = the occurrences of the searched strings (longest first), case-insensitive."""
    strings = sorted({m for m in marks if m}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in strings), re.IGNORECASE)
    return RegexTokenizer(pattern) | LowercaseFilter()


def _highlights(stored: dict, analyzer, marks: list[str]) -> dict[str, str]:
    out = {}
    terms = {m.lower() for m in marks}
    for fieldname, fragmenter, top in (("title", wh.WholeFragmenter(), 1),
                                       ("body", _WindowFragmenter(), 2)):
        text = stored.get(fieldname) or ""
        if not text:
            continue
        html = wh.highlight(text[:MAX_BODY_CHARS], terms, analyzer, fragmenter, _MarkFormatter(),
                            top=top)
        if html:
            out[fieldname] = html
    return out
