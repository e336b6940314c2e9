"""Batch jobs over JSONL files, resumable after a crash with exactly-once output.

Every input line becomes exactly one of: an output row (the input object plus ``restored`` and
``edits``), in input order; a record in the errors file (``{"line", "error", "raw"}``) for a
malformed row; or a count of blank lines skipped. Nothing is dropped silently.

Resume works from a checkpoint file next to the output (``OUT.progress.json``), replaced
atomically after the output and errors files are flushed to disk. It records how far the input
was read and how long both files were at that moment. ``resume=True`` truncates both files back
to those lengths and continues reading from there. Checkpoints fall at the ends of the
Restorer's read-ahead windows, so the resumed run batches the same units together as an
uninterrupted one would; with deterministic decoding, a job killed at any point (SIGKILL
included) and resumed writes the same bytes as one uninterrupted run. A window is cut after
``checkpoint_rows`` rows (64) as well as after the Restorer's ``read_ahead`` units, so even a
job shorter than one read-ahead window has a resume point at least every 64 rows.

The progress bar advances a window at a time (all its rows come out together) and rates by the
average since the job started, which is after the model was loaded: its first figures are not
the first window's wait spread over one row.

For example, over a file of 1,000 lines of which two are malformed::

    summary = run_batch(restorer, "in.jsonl", "out.jsonl", field="text")
    summary.rows, summary.errors  # (998, 2)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from restore.errors import InputError
from restore.markup import PageText, place_next, read_pages

logger = logging.getLogger(__name__)

# 2: windows are also cut every checkpoint_rows rows (recorded in the job).
CHECKPOINT_VERSION = 2
DEFAULT_CHECKPOINT_ROWS = 64
MAX_RAW_CHARS = 10_000  # of a malformed line kept in the errors file
RESTORED_FIELD = "restored"
EDITS_FIELD = "edits"
UNITS_FIELD = "units"
SUGGESTIONS_FIELD = "suggestions"
SPIN_FIELD = "spin"  # with detect: {"spin_score", "spun_probability"}


@dataclass(frozen=True)
class BatchSummary:
    """What a batch job wrote: rows restored, malformed rows, blank lines skipped."""

    rows: int
    errors: int
    blank: int
    lines: int  # input lines read, including the ones before a resume
    resumed_at_line: int  # 0 for a fresh run
    output: Path
    errors_path: Path


@dataclass
class _Checkpoint:
    version: int
    input: str
    input_size: int
    field: str
    job: dict[str, Any]
    line: int = 0  # input lines consumed
    offset: int = 0  # input bytes consumed
    output_bytes: int = 0
    errors_bytes: int = 0
    rows: int = 0
    errors: int = 0
    blank: int = 0
    complete: bool = False


@dataclass
class _Entry:
    line: int
    end_offset: int
    row: dict | None = None  # a valid row
    error: dict | None = None  # an errors-file record


@dataclass(frozen=True)
class _Paths:
    source: Path
    out: Path
    errors: Path
    checkpoint: Path

    @classmethod
    def of(cls, source, out, errors) -> _Paths:
        default_errors, checkpoint = default_paths(out)
        return cls(Path(source), Path(out), Path(errors) if errors else default_errors, checkpoint)


def default_paths(output: str | Path) -> tuple[Path, Path]:
    """The errors file and checkpoint file used for ``output`` by default."""
    out = Path(output)
    return out.with_name(out.name + ".errors.jsonl"), out.with_name(out.name + ".progress.json")


def run_batch(
    restorer,
    input_path: str | Path,
    output_path: str | Path,
    *,
    field: str = "text",
    errors_path: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    include_units: bool = False,
    include_suggestions: bool = False,
    detect: bool = False,
    html: bool = False,
    job: Mapping[str, Any] | None = None,
    checkpoint_rows: int = DEFAULT_CHECKPOINT_ROWS,
) -> BatchSummary:
    """Restore ``field`` of every row of the JSONL file ``input_path`` into ``output_path``.

    Refuses to replace an existing output unless ``overwrite`` (start again) or ``resume``
    (continue from its checkpoint). ``include_units`` adds each row's unit reports (the guard's
    decisions) as ``units``, ``include_suggestions`` the edits too unsure to make as
    ``suggestions`` (``Restoration.suggestions``); ``detect`` adds ``spin``, the spin score and
    calibrated P(spun) of the row's text (``restore.detection``), from the same model pass;
    ``html`` reads the field as an HTML page (:meth:`Restorer.restore_html`: the text a reader
    sees is restored, the markup kept, offsets are page offsets). A resume point (a checkpoint)
    falls at least every ``checkpoint_rows`` rows. ``job`` (for instance the model and backend)
    is recorded in the checkpoint with the batching settings; resuming with a different job or
    field is refused. Raises :class:`InputError` for a missing, binary or unreadable input, or a
    ``field`` the first row lacks.
    """
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    if checkpoint_rows < 1:
        raise ValueError(f"checkpoint_rows must be at least 1, got {checkpoint_rows}")
    if detect and not restorer.detects:
        from restore.detection import DetectionUnavailable

        raise DetectionUnavailable("--detect needs a model that gives word spin probabilities")
    paths = _Paths.of(input_path, output_path, errors_path)
    _check_input(paths.source)
    # Everything that shapes the output bytes must match when a job resumes.
    job = {
        **(job or {}),
        "batch_size": restorer.batch_size,
        "read_ahead": restorer.read_ahead,
        "checkpoint_rows": checkpoint_rows,
        "include_units": include_units,
        "detect": detect,
        # Only when set: checkpoints written before the option existed still resume.
        **({"include_suggestions": True} if include_suggestions else {}),
        **({"html": True} if html else {}),
    }
    fresh = _Checkpoint(
        CHECKPOINT_VERSION, str(paths.source.resolve()), paths.source.stat().st_size, field, job
    )
    state = _starting_state(paths, fresh, resume=resume, overwrite=overwrite)
    resumed_at = state.line
    if state.complete:
        logger.info("%s is already complete", paths.out)
        return _summary(state, paths, resumed_at=resumed_at)
    if resumed_at == 0:
        _check_field(paths.source, field)
    _open_outputs(paths, state)
    if resumed_at:
        logger.info("resuming %s at input line %d (%d rows)", paths.out, resumed_at, state.rows)
    _process(
        restorer,
        paths,
        state,
        include_units=include_units,
        include_suggestions=include_suggestions,
        detect=detect,
        html=html,
        progress=progress,
        checkpoint_rows=checkpoint_rows,
    )
    summary = _summary(state, paths, resumed_at=resumed_at)
    logger.info(
        "%d rows restored, %d malformed rows (in %s), %d blank lines",
        summary.rows,
        summary.errors,
        paths.errors,
        summary.blank,
    )
    return summary


def _process(
    restorer,
    paths: _Paths,
    state: _Checkpoint,
    *,
    include_units: bool,
    include_suggestions: bool,
    detect: bool,
    html: bool,
    progress: bool,
    checkpoint_rows: int,
) -> None:
    """Read the input from the checkpoint on, write rows and errors, checkpoint as it goes."""
    with (
        open(paths.source, "rb") as fin,
        open(paths.out, "ab") as fout,
        open(paths.errors, "ab") as ferr,
        _progress(progress, _count_lines(paths.source), state.line) as bar,
    ):
        fin.seek(state.offset)
        pending: deque[_Entry] = deque()
        texts = _read_rows(fin, state, state.field, pending)
        pages: deque[tuple[str, PageText]] = deque()
        if html:
            texts = read_pages(texts, pages)
        shown = state.line
        for window in restorer.iter_windows(texts, max_documents=checkpoint_rows):
            for result in window:
                _write_errors(pending, ferr, state)
                entry = pending.popleft()
                judged, text = result, entry.row[state.field]
                if html:  # spin is judged on the text read; the row gets page offsets
                    result, text = place_next(pages, result)
                row = _output_row(entry.row, result, include_units, include_suggestions)
                if detect:
                    row[SPIN_FIELD] = _spin(restorer, text, judged)
                fout.write(_json_line(row))
                state.rows += 1
                _advance(state, entry)
            # Only at window ends: a resumed run then forms the same windows from here on, so
            # its batches, and every float they produce, are the same as in one run.
            _commit(state, fout, ferr, paths.checkpoint)
            bar.update(state.line - shown)
            shown = state.line
        _write_errors(pending, ferr, state)
        state.complete = True
        _commit(state, fout, ferr, paths.checkpoint)
        bar.update(state.line - shown)


def _output_row(row: dict, result, include_units: bool, include_suggestions: bool) -> dict:
    data = result.to_dict()
    out = {**row, RESTORED_FIELD: result.text, EDITS_FIELD: data["edits"]}
    if include_units:
        out[UNITS_FIELD] = data["units"]
    if include_suggestions:
        out[SUGGESTIONS_FIELD] = data["suggestions"]
    return out


def _spin(restorer, text: str, result) -> dict[str, Any]:
    from restore.detection import build_detection

    detection = build_detection(text, result.word_spin, restorer.calibration)
    return detection.to_dict(words=False)


def _starting_state(
    paths: _Paths, fresh: _Checkpoint, *, resume: bool, overwrite: bool
) -> _Checkpoint:
    """Where the job starts: ``fresh``, or the checkpoint of the job it resumes."""
    existing = [p for p in (paths.out, paths.errors) if p.exists()]
    if resume and paths.checkpoint.exists():
        state = _load_checkpoint(paths.checkpoint, fresh)
        for path, size in ((paths.out, state.output_bytes), (paths.errors, state.errors_bytes)):
            if size and (not path.exists() or path.stat().st_size < size):
                raise InputError(f"cannot resume: {path} is shorter than its checkpoint says")
        return state
    if resume and existing:
        raise InputError(
            f"{existing[0]} exists but has no checkpoint {paths.checkpoint.name}: it was not "
            "written by an interrupted restore batch job; use --overwrite to start again"
        )
    if existing and not overwrite:
        raise InputError(f"{existing[0]} exists; pass --overwrite or --resume")
    return fresh


def _open_outputs(paths: _Paths, state: _Checkpoint) -> None:
    """Cut both outputs back to the checkpoint (empty for a fresh job) and record it."""
    for path, size in ((paths.out, state.output_bytes), (paths.errors, state.errors_bytes)):
        path.parent.mkdir(parents=True, exist_ok=True)
        _truncate(path, size)
    _save_checkpoint(paths.checkpoint, state)


def _read_rows(
    fin: BinaryIO, state: _Checkpoint, field: str, pending: deque[_Entry]
) -> Iterator[str]:
    """Yield the text of each valid row; queue every line's outcome in ``pending``."""
    line_no, offset = state.line, state.offset
    for raw in fin:
        line_no += 1
        offset += len(raw)
        entry = _parse(raw, line_no, offset, field)
        pending.append(entry)
        if entry.row is not None:
            yield entry.row[field]


def _parse(raw: bytes, line_no: int, offset: int, field: str) -> _Entry:
    data = raw.rstrip(b"\r\n")
    if line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte order mark
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return _error(line_no, offset, f"invalid UTF-8 at byte {err.start}", data)
    if not text.strip():
        return _Entry(line_no, offset)
    try:
        row = json.loads(text)
    except ValueError as err:
        return _error(line_no, offset, f"invalid JSON: {err}", data)
    if not isinstance(row, dict):
        return _error(line_no, offset, f"a JSON {type(row).__name__}, not an object", data)
    if field not in row:
        return _error(line_no, offset, f"no field {field!r}", data)
    if not isinstance(row[field], str):
        kind = type(row[field]).__name__
        return _error(line_no, offset, f"field {field!r} is of type {kind}, not a string", data)
    return _Entry(line_no, offset, row=row)


def _error(line_no: int, offset: int, message: str, data: bytes) -> _Entry:
    raw = data.decode("utf-8", errors="replace")
    record = {"line": line_no, "error": message, "raw": raw[:MAX_RAW_CHARS]}
    if len(raw) > MAX_RAW_CHARS:
        record["raw_truncated"] = True
    return _Entry(line_no, offset, error=record)


def _write_errors(pending: deque[_Entry], ferr: BinaryIO, state: _Checkpoint) -> None:
    """Write out the queued lines before the next valid row (or all, at the end)."""
    while pending and pending[0].row is None:
        entry = pending.popleft()
        if entry.error is not None:
            ferr.write(_json_line(entry.error))
            state.errors += 1
        else:
            state.blank += 1
        _advance(state, entry)


def _advance(state: _Checkpoint, entry: _Entry) -> None:
    state.line, state.offset = entry.line, entry.end_offset


def _commit(state: _Checkpoint, fout: BinaryIO, ferr: BinaryIO, path: Path) -> None:
    """Make everything written so far durable, then record it in the checkpoint."""
    for handle in (fout, ferr):
        handle.flush()
        os.fsync(handle.fileno())
    state.output_bytes, state.errors_bytes = fout.tell(), ferr.tell()
    _save_checkpoint(path, state)


def _save_checkpoint(path: Path, state: _Checkpoint) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(dataclasses.asdict(state), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_checkpoint(path: Path, expected: _Checkpoint) -> _Checkpoint:
    try:
        state = _Checkpoint(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"cannot read checkpoint {path}: {err}") from err
    if state.version != CHECKPOINT_VERSION:
        raise InputError(f"{path}: checkpoint version {state.version} is not supported")
    for name in ("input", "input_size", "field", "job"):
        was, now = getattr(state, name), getattr(expected, name)
        if was != now:
            raise InputError(
                f"cannot resume: {name} was {was!r} when the job started and is {now!r} now"
            )
    return state


def _check_input(path: Path) -> None:
    if not path.exists():
        raise InputError(f"input file {path} not found")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise InputError(f"{path} looks binary (NUL byte at offset {head.index(0)}), not JSONL")


def _check_field(path: Path, field: str, max_lines: int = 1000) -> None:
    """Fail fast when the first JSON object of the file lacks ``field``: a wrong --field."""
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if line_no > max_lines:
                return
            try:
                row = json.loads(raw.decode("utf-8-sig"))
            except ValueError:
                continue
            if isinstance(row, dict):
                if field not in row:
                    keys = ", ".join(repr(k) for k in list(row)[:20])
                    raise InputError(
                        f"{path}: the first row (line {line_no}) has no field {field!r}; "
                        f"its fields are {keys}"
                    )
                return


def _truncate(path: Path, size: int) -> None:
    with open(path, "ab") as fh:
        fh.truncate(size)


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _json_line(obj: dict) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")


def _summary(state: _Checkpoint, paths: _Paths, *, resumed_at: int) -> BatchSummary:
    return BatchSummary(
        state.rows, state.errors, state.blank, state.line, resumed_at, paths.out, paths.errors
    )


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    # smoothing=0: the rate is the average since the start, as rows arrive a window at a time.
    return tqdm(
        total=total,
        initial=initial,
        unit="rows",
        desc="restore",
        dynamic_ncols=True,
        smoothing=0,
    )
