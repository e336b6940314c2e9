"""The batch job on Ray Data, on a local 2-CPU Ray: JSONL and Parquet, order kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

from restore.cli import main  # noqa: E402
from restore.errors import InputError  # noqa: E402
from restore.ray_batch import RayJob, restore_table, run_ray_batch  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _rows() -> list[dict]:
    from conftest import fixture_texts

    paragraphs = [p for text in fixture_texts() for p in text.split("\n\n")][:24]
    rows = [{"id": i, "text": p} for i, p in enumerate(paragraphs)]
    rows[5] = {"id": 5, "text": None}  # a row that cannot be restored keeps its place
    return rows


def _read_output(path: Path, suffix: str) -> list[dict]:
    files = sorted(path.glob(f"*{suffix}"))
    if suffix == ".parquet":
        return [row for f in files for row in pq.read_table(f).to_pylist()]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_restore_table_adds_columns_in_place(tiny_restorer):
    import pyarrow as pa

    table = pa.table({"id": [1, 2, 3], "text": ["The big dog.", None, "A cat."]})
    out = restore_table(tiny_restorer, table, "text")
    assert out.column_names == ["id", "text", "restored", "edits", "error"]
    assert out.column("restored").to_pylist() == [
        tiny_restorer.restore("The big dog."),
        None,
        tiny_restorer.restore("A cat."),
    ]
    assert out.column("error").to_pylist()[1] == "field 'text' is missing or null"
    missing = restore_table(tiny_restorer, table, "body")
    assert set(missing.column("error").to_pylist()) == {"no field 'body'"}


def test_restore_table_adds_suggestions_as_edits_are(stub_restorer):
    import pyarrow as pa

    unsure = {"min_edit_confidence": 0.5, "min_suggestion_confidence": 0.3}
    restorer = stub_restorer(lambda s: s.replace("big", "large"), prob=0.4, guard=unsure)
    texts = ["The big dog.", None, "A cat."]
    table = pa.table({"text": texts, "suggestions": [1, 2, 3]})
    out = restore_table(restorer, table, "text", suggestions=True)
    assert out.column_names == ["text", "restored", "edits", "error", "suggestions"]
    assert out.column("suggestions").to_pylist() == [
        restorer.restore_detailed("The big dog.").to_dict()["suggestions"],
        [],
        [],
    ]
    assert out.column("suggestions").to_pylist()[0][0]["restored"] == "large"
    assert out.column("edits").to_pylist() == [[], [], []]


def test_restore_table_adds_unit_reports_as_the_local_job_does(stub_restorer):
    import pyarrow as pa

    restorer = stub_restorer(
        lambda s: s.replace("big", "large"), prob=0.4, guard={"min_confidence": 0.5}
    )
    texts = ["The big dog.\n\nA cat.", None, ""]
    out = restore_table(restorer, pa.table({"text": texts}), "text", units=True)
    assert out.column_names == ["text", "restored", "edits", "error", "units"]
    reports = out.column("units").to_pylist()
    assert reports == [
        restorer.restore_detailed(texts[0]).to_dict()["units"],
        [],
        restorer.restore_detailed("").to_dict()["units"],
    ]
    assert [u["status"] for u in reports[0]] == ["rejected", "unchanged"]
    assert reports[0][0]["reasons"] == ["low_confidence"]


def test_ray_jsonl_and_parquet_jobs_keep_order(local_ray, tmp_path, tiny_ct2_model):
    """JSONL through CTranslate2 actors, Parquet through torch actors (the default backend)."""
    import pyarrow as pa

    from restore import Restorer

    rows = _rows()
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_in)
    for backend, path, out_dir, suffix in [
        ("ctranslate2", source, tmp_path / "out_jsonl", ".json"),
        ("torch", parquet_in, tmp_path / "out_parquet", ".parquet"),
    ]:
        job = RayJob(
            model=str(tiny_ct2_model), backend=backend, actors=2, threads=1, rows_per_call=5
        )
        if backend == "torch":  # through the command line: restore batch --ray
            args = ["batch", str(path), str(out_dir), "--ray", "--model", str(tiny_ct2_model)]
            assert main([*args, "--threads", "1", "--actors", "2", "--units"]) == 0
        else:
            run_ray_batch(job, str(path), str(out_dir))
        local = Restorer.from_pretrained(tiny_ct2_model, backend=backend, threads=1)
        out = _read_output(out_dir, suffix)
        assert [r["id"] for r in out] == [r["id"] for r in rows]
        for got, row in zip(out, rows):
            if row["text"] is None:
                assert got["restored"] is None and "null" in got["error"]
            else:
                assert got["restored"] == local.restore(row["text"]) and got["error"] is None
                if backend == "torch":
                    # Confidences differ in float32's last digits with the batch's make-up.
                    units = local.restore_detailed(row["text"]).to_dict()["units"]
                    confidences = [u.pop("confidence") for u in got["units"]]
                    assert confidences == pytest.approx(
                        [u.pop("confidence") for u in units], rel=1e-4
                    )
                    assert got["units"] == units

    with pytest.raises(Exception, match="exist"):
        run_ray_batch(job, str(source), str(tmp_path / "out_jsonl"))
    with pytest.raises(InputError, match="not found"):
        run_ray_batch(job, str(tmp_path / "none.jsonl"), str(tmp_path / "x"))


def test_restore_table_reads_pages_as_the_local_job_does(tiny_detect_model):
    import pyarrow as pa

    from restore import Restorer

    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    pages = ['<p title="ballot">They <b>ballot</b> on it.</p><style>ballot</style>', None, ""]
    out = restore_table(restorer, pa.table({"html": pages}), "html", detect=True, html=True)
    placed = restorer.restore_html(pages[0])
    assert out.column("restored").to_pylist() == [placed.text, None, ""]
    assert out.column("edits").to_pylist()[0] == placed.to_dict()["edits"]
    assert out.column("spin_score").to_pylist()[0] == restorer.detect_html(pages[0]).spin_score
