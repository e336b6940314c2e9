"""The batch job on Ray Data: many Restorer actors over JSONL or Parquet, locally or on a cluster.

Each actor loads the Restorer once and restores batches of rows; output rows keep every input
column and add ``restored`` (string), ``edits`` (list of structs) and ``error`` (null, or why a
row was not restored: its field is missing or not a string), in input order, as a directory of
JSONL or Parquet files; on request also the spin columns, ``suggestions`` and ``units`` (the
guard's report of each unit, as the local job writes them). Malformed JSON fails the read
loudly (check a file with the local ``restore batch`` first, which routes malformed rows to an
errors file).

Actors reserve a fraction of a CPU (0.5 by default) and set their thread count explicitly: on a
2-CPU machine, two actors with a whole CPU each would take every CPU and the read task would
wait forever.

For example::

    job = RayJob(model="runs/tiny/model", actors=2)
    run_ray_batch(job, "data/in.jsonl", "data/out")        # local Ray, or RAY_ADDRESS
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore.errors import InputError
from restore.markup import PageText, place_next, read_pages

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "parquet")
RESTORED_FIELD, EDITS_FIELD, ERROR_FIELD = "restored", "edits", "error"
SUGGESTIONS_FIELD, UNITS_FIELD = "suggestions", "units"
SPIN_FIELDS = ("spin_score", "spun_probability")


@dataclass(frozen=True)
class RayJob:
    """What each actor loads and how many actors run."""

    model: str = "default"
    backend: str = "torch"
    field: str = "text"
    guard: dict[str, Any] = dataclasses.field(default_factory=dict)
    actors: int = 2
    cpus_per_actor: float = 0.5
    threads: int = 1  # model threads per actor
    batch_size: int = 32  # units per model call inside an actor
    rows_per_call: int = 64  # rows handed to an actor at a time
    file_format: str | None = None  # "jsonl" or "parquet"; by default from the input's name
    detect: bool = False  # add spin_score and spun_probability columns
    suggestions: bool = False  # add a suggestions column (Restoration.suggestions)
    units: bool = False  # add a units column (Restoration.units: the guard's decisions)
    html: bool = False  # read the field as HTML pages (Restorer.restore_html)

    def validate(self) -> None:
        if self.actors < 1 or self.threads < 1 or self.batch_size < 1 or self.rows_per_call < 1:
            raise ValueError("actors, threads, batch_size and rows_per_call must be at least 1")
        if self.cpus_per_actor <= 0:
            raise ValueError("cpus_per_actor must be positive")
        if self.file_format not in (None, *FORMATS):
            raise ValueError(f"file_format must be one of {FORMATS}")


class RestoreActor:
    """Ray Data callable class: one Restorer per actor process."""

    def __init__(self, job: RayJob):
        from restore.restorer import Restorer

        self.job = job
        self.restorer = Restorer.from_pretrained(
            job.model,
            backend=job.backend,
            guard=job.guard or None,
            threads=job.threads,
            batch_size=job.batch_size,
        )

    def __call__(self, table):
        return restore_table(
            self.restorer,
            table,
            self.job.field,
            detect=self.job.detect,
            suggestions=self.job.suggestions,
            units=self.job.units,
            html=self.job.html,
        )


def restore_table(
    restorer,
    table,
    field_name: str,
    *,
    detect: bool = False,
    suggestions: bool = False,
    units: bool = False,
    html: bool = False,
):
    """A pyarrow Table with ``restored``, ``edits`` and ``error`` columns added (and, with
    ``detect``, ``spin_score`` and ``spun_probability`` from the same model pass; with
    ``suggestions``, the edits too unsure to make, as ``edits`` is; with ``units``, each
    row's unit reports; with ``html``, each value is read as an HTML page, as
    :meth:`Restorer.restore_html` reads it)."""
    import pyarrow as pa

    from restore.detection import build_detection

    n = table.num_rows
    values = (
        table.column(field_name).to_pylist() if field_name in table.column_names else [None] * n
    )
    valid = [i for i, value in enumerate(values) if isinstance(value, str)]
    restored: list[str | None] = [None] * n
    edits: list[list[dict]] = [[] for _ in range(n)]
    suggested: list[list[dict]] = [[] for _ in range(n)]
    reports: list[list[dict]] = [[] for _ in range(n)]
    errors: list[str | None] = [
        None if isinstance(value, str) else _row_error(field_name, value, table.column_names)
        for value in values
    ]
    spin: list[float | None] = [None] * n
    spun: list[float | None] = [None] * n
    texts = (values[i] for i in valid)
    pages: deque[tuple[str, PageText]] = deque()
    for i, result in zip(
        valid, restorer.restore_detailed_iter(read_pages(texts, pages) if html else texts)
    ):
        judged, text = result, values[i]
        if html:  # spin is judged on the text read; the row gets page offsets
            result, text = place_next(pages, result)
        if detect:
            detection = build_detection(text, judged.word_spin, restorer.calibration)
            spin[i], spun[i] = detection.spin_score, detection.spun_probability
        restored[i] = result.text
        data = result.to_dict()
        edits[i], suggested[i], reports[i] = data["edits"], data["suggestions"], data["units"]
    added = (RESTORED_FIELD, EDITS_FIELD, ERROR_FIELD) + (SPIN_FIELDS if detect else ())
    added += ((SUGGESTIONS_FIELD,) if suggestions else ()) + ((UNITS_FIELD,) if units else ())
    for name in added:
        if name in table.column_names:
            table = table.drop_columns([name])
    table = table.append_column(RESTORED_FIELD, pa.array(restored, pa.string()))
    table = table.append_column(EDITS_FIELD, pa.array(edits, _edit_type()))
    table = table.append_column(ERROR_FIELD, pa.array(errors, pa.string()))
    if detect:
        table = table.append_column(SPIN_FIELDS[0], pa.array(spin, pa.float64()))
        table = table.append_column(SPIN_FIELDS[1], pa.array(spun, pa.float64()))
    if suggestions:
        table = table.append_column(SUGGESTIONS_FIELD, pa.array(suggested, _edit_type()))
    if units:
        table = table.append_column(UNITS_FIELD, pa.array(reports, _unit_type()))
    return table


def run_ray_batch(
    job: RayJob,
    input_path: str,
    output_path: str,
    *,
    address: str | None = None,
    overwrite: bool = False,
) -> None:
    """Run ``job`` over ``input_path`` (a file, a directory or a list understood by Ray Data)
    into the directory ``output_path``.

    Connects to ``address`` (or the ``RAY_ADDRESS`` cluster, or starts a local Ray) unless Ray
    is already initialised. Refuses an existing output unless ``overwrite``.
    """
    import ray
    import ray.data

    job.validate()
    fmt = job.file_format or _format_of(str(input_path))
    if "://" not in str(input_path) and not Path(input_path).exists():
        raise InputError(f"input {input_path} not found")
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # output rows in input order
    if fmt == "jsonl":
        dataset = ray.data.read_json(str(input_path), lines=True)
    else:
        dataset = ray.data.read_parquet(str(input_path))
    dataset = dataset.map_batches(
        RestoreActor,
        fn_constructor_kwargs={"job": job},
        batch_size=job.rows_per_call,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=job.actors),
        num_cpus=job.cpus_per_actor,
    )
    mode = ray.data.SaveMode.OVERWRITE if overwrite else ray.data.SaveMode.ERROR
    if fmt == "jsonl":
        dataset.write_json(str(output_path), mode=mode, force_ascii=False)
    else:
        dataset.write_parquet(str(output_path), mode=mode)
    logger.info("wrote %s", output_path)


def _format_of(path: str) -> str:
    name = path.rstrip("/").lower()
    if name.endswith(".parquet") or (Path(path).is_dir() and any(Path(path).glob("*.parquet"))):
        return "parquet"
    if name.endswith((".jsonl", ".json")) or Path(path).is_dir():
        return "jsonl"
    raise InputError(f"cannot tell the format of {path}; pass --format jsonl or parquet")


def _row_error(field_name: str, value: Any, columns: list[str]) -> str:
    if field_name not in columns:
        return f"no field {field_name!r}"
    if value is None:
        return f"field {field_name!r} is missing or null"
    return f"field {field_name!r} is of type {type(value).__name__}, not a string"


def _edit_type():
    """An ``edits`` or ``suggestions`` cell: a list of ``Restoration.to_dict()`` edits."""
    import pyarrow as pa

    alternative = pa.struct([("restored", pa.string()), ("confidence", pa.float64())])
    return _list_of(
        spun=pa.string(),
        restored=pa.string(),
        confidence=pa.float64(),
        alternatives=pa.list_(alternative),
    )


def _unit_type():
    """A ``units`` cell: a list of ``Restoration.to_dict()`` unit reports."""
    import pyarrow as pa

    return _list_of(
        status=pa.string(),
        reasons=pa.list_(pa.string()),
        confidence=pa.float64(),
        proposal=pa.string(),
    )


def _list_of(**fields):
    """A list of structs of a text span (``start``, ``end``) and ``fields``, in that order."""
    import pyarrow as pa

    return pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), *fields.items()]))
