"""The ``restore`` command line.

    restore [FILE]                          restore a document (stdin by default) to stdout
    restore PAGE.html                       restore the text of a web page, keep its markup
    restore FILE --json | --diff            with its edits and suggestions, JSON or marked
    restore batch IN.jsonl OUT.jsonl --field text [--resume | --overwrite] [--ray] [--detect]
                                            [--html]
    restore detect [FILE] [--json]          how likely the text, and each word, was spun
    restore serve [--host 127.0.0.1] [--port 8000]   web page and JSON API
    restore export-ct2 MODEL_DIR OUT_DIR --quantization int8

Exit codes: 0 success; 1 a batch job finished but some rows were malformed (see its errors
file); 2 bad input or usage (missing file, invalid UTF-8, binary data, wrong field, unknown
model, an output that exists); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from restore.errors import RestoreError

logger = logging.getLogger("restore")

# Each subcommand with the line ``restore --help`` shows for it.
SUBCOMMANDS = {
    "batch": "restore a field of every row of a JSONL file, resumable (--ray: on Ray Data)",
    "detect": "how likely a text, and each of its words, was spun",
    "serve": "a web page and a JSON API over one loaded model",
    "export-ct2": "export a model directory to CTranslate2 (backend 'ctranslate2')",
}
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
EXIT_OK, EXIT_MALFORMED_ROWS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
_RED, _GREEN, _YELLOW, _RESET = "\x1b[31;9m", "\x1b[32m", "\x1b[33m", "\x1b[0m"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``restore``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "restore"
    parser = _PARSERS[command]()
    args = parser.parse_args(argv[1:] if command != "restore" else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from restore.detection import DetectionUnavailable
    from restore.settings import ModelFormatError

    try:
        return _COMMANDS[command](args)
    except (RestoreError, ModelFormatError, DetectionUnavailable, FileExistsError) as err:
        print(f"restore: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("restore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- restore [FILE] --------------------------------------------------------------------------


def _restore_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in SUBCOMMANDS)
    listing = "\n".join(f"  {name:{width}}  {line}" for name, line in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="restore",
        description="Restore the original wording of spun text. Reads FILE (or stdin) as one "
        "document and writes the restored document to stdout; a web page (*.html, or --html) "
        "comes back with the text a reader sees restored and its markup as it was.",
        epilog=f"subcommands (restore COMMAND --help for each):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_document_options(parser)
    view = parser.add_mutually_exclusive_group()
    view.add_argument(
        "--json", action="store_true", help="print the text, edits, units and suggestions"
    )
    view.add_argument(
        "--diff", action="store_true", help="print the text with edits and suggestions marked"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in --diff (auto: when stdout is a terminal and NO_COLOR is unset)",
    )
    _add_model_options(parser)
    return parser


def _run_restore(args: argparse.Namespace) -> int:
    text, page_encoding = _read_document(args)
    if text.strip():
        restorer = _load_restorer(args)
        is_page = page_encoding is not None
        result = (restorer.restore_html if is_page else restorer.restore_detailed)(text)
    else:
        # Nothing for a model to change (the Restorer passes blank text through without a
        # model call): answered without loading one, after the same checks of the options.
        from restore.restorer import Restoration

        _check_model(args)
        result = Restoration(text)
    if args.json:
        _write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    elif args.diff:
        _write(render_diff(text, result.edits, result.suggestions, color=_use_color(args.color)))
    elif page_encoding is not None:  # a page goes back in the encoding it came in
        from restore.markup import encode_page

        _write_bytes(encode_page(result.text, page_encoding))
    else:
        _write(result.text)
    return EXIT_OK


def _read_document(args: argparse.Namespace) -> tuple[str, str | None]:
    """The document, and for a web page the encoding it was read with (None for text)."""
    from restore.errors import InputError
    from restore.fetch import fetch, is_url

    charset, looks_like_page = None, False
    if args.file is None:
        data, name = sys.stdin.buffer.read(), "stdin"
    elif is_url(args.file):
        fetched = fetch(args.file)
        data, name, charset = fetched.data, args.file, fetched.charset
        looks_like_page = fetched.is_page
    else:
        path = Path(args.file)
        if not path.is_file():
            raise InputError(f"{path} not found" if not path.exists() else f"{path} is not a file")
        data, name = path.read_bytes(), str(path)
        looks_like_page = path.suffix.lower() in HTML_SUFFIXES
    as_page = args.markup == "html" or (args.markup is None and looks_like_page)
    return _decode(data, name, charset, as_page=as_page)


def _add_document_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        help="UTF-8 text or HTML file, or an http(s):// address (default: stdin)",
    )
    markup = parser.add_mutually_exclusive_group()
    markup.add_argument(
        "--html",
        dest="markup",
        action="store_const",
        const="html",
        help="read the input as an HTML page: restore the text a reader sees, keep the markup "
        "(the default for files named *.html, *.htm, *.xhtml and addresses that serve HTML)",
    )
    markup.add_argument(
        "--text",
        dest="markup",
        action="store_const",
        const="text",
        help="read the input as plain text, whatever its name",
    )


def render_diff(text: str, edits, suggestions=(), *, color: bool) -> str:
    """``text`` with each edit shown as its spun and restored words: coloured (red struck-out,
    green) or, without colour, wdiff-style ``[-spun-]{+restored+}``; each suggestion keeps its
    word and follows it with the suggested one, ``{?restored?}`` (yellow in colour)."""
    marked = sorted(
        [(e, False) for e in edits] + [(s, True) for s in suggestions], key=lambda m: m[0].start
    )
    parts = []
    pos = 0
    for edit, suggested in marked:
        if edit.start < pos:  # overlaps what is already shown
            continue
        parts.append(text[pos : edit.start])
        if suggested and color:
            parts.append(f"{edit.spun}{_YELLOW}{{?{edit.restored}?}}{_RESET}")
        elif suggested:
            parts.append(f"{edit.spun}{{?{edit.restored}?}}")
        elif color:
            parts.append(f"{_RED}{edit.spun}{_RESET}{_GREEN}{edit.restored}{_RESET}")
        else:
            parts.append(f"[-{edit.spun}-]{{+{edit.restored}+}}")
        pos = edit.end
    parts.append(text[pos:])
    return "".join(parts)


def _decode(
    data: bytes, name: str, charset: str | None, *, as_page: bool
) -> tuple[str, str | None]:
    """Text in UTF-8 (a BOM allowed) or in the ``charset`` a server named for it; or a page, as
    :func:`restore.markup.decode_page` reads it, with the encoding it was read in."""
    from restore.errors import InputError
    from restore.markup import decode_page

    # A page may be UTF-16 (NUL bytes in plenty): it is judged by its characters instead.
    if not as_page and b"\x00" in data:
        raise InputError(f"{name} looks binary (NUL byte at offset {data.index(0)}), not text")
    try:
        if as_page:
            text, encoding = decode_page(data, charset)
        else:
            text, encoding = data.decode(charset or "utf-8-sig"), None
    except LookupError as err:
        raise InputError(f"{name} is in an encoding Python does not know ({err})") from err
    except UnicodeDecodeError as err:
        what = charset or ("UTF-8 and declares no encoding" if as_page else "UTF-8")
        raise InputError(
            f"{name} is not valid {what} (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from err
    if "\x00" in text:
        raise InputError(f"{name} looks binary (NUL at character {text.index(chr(0))}), not text")
    return text, encoding


def _use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _write(text: str) -> None:
    # A page's undefined bytes (lone surrogates) show as \\udcXX: in JSON, the same escape.
    _write_bytes(text.encode("utf-8", "backslashreplace"))


def _write_bytes(data: bytes) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(data.decode("utf-8", "replace"))
    else:
        out.write(data)
    sys.stdout.flush()


# -- restore batch ---------------------------------------------------------------------------


def _batch_parser() -> argparse.ArgumentParser:
    from restore.batch import DEFAULT_CHECKPOINT_ROWS

    parser = argparse.ArgumentParser(
        prog="restore batch",
        description="Restore a field of every row of a JSONL file. Output rows keep every "
        "input field and add 'restored' and 'edits', in input order; malformed rows go to "
        "the errors file with their line numbers. With --ray, run on Ray Data (JSONL or "
        "Parquet files or directories; see restore.ray_batch).",
    )
    parser.add_argument("input", help="input JSONL file (with --ray: file or directory)")
    parser.add_argument("output", help="output JSONL file (with --ray: a directory)")
    parser.add_argument("--field", default="text", help="the field to restore (default: text)")
    parser.add_argument("--errors", help="errors file (default: OUTPUT.errors.jsonl)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted job")
    again.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--checkpoint-rows",
        type=int,
        default=DEFAULT_CHECKPOINT_ROWS,
        help=f"a resume point at least every this many rows (default: {DEFAULT_CHECKPOINT_ROWS})",
    )
    parser.add_argument(
        "--units",
        action="store_true",
        help="add each row's unit reports (guard decisions; with --ray: a column)",
    )
    parser.add_argument(
        "--suggestions",
        action="store_true",
        help="add each row's edits too unsure to make ('suggestions'; with --ray: a column)",
    )
    parser.add_argument(
        "--detect",
        action="store_true",
        help="add the spin score and P(spun) of each row ('spin'; with --ray: columns)",
    )
    parser.add_argument(
        "--html",
        action="store_true",
        help="read the field as an HTML page: restore the text a reader sees, keep the markup",
    )
    ray = parser.add_argument_group("Ray Data")
    ray.add_argument("--ray", action="store_true", help="run the job on Ray Data")
    ray.add_argument("--ray-address", help="cluster address (default: RAY_ADDRESS or local)")
    ray.add_argument("--actors", type=int, default=2, help="Restorer actors (default: 2)")
    ray.add_argument(
        "--cpus-per-actor", type=float, default=0.5, help="CPUs reserved per actor (0.5)"
    )
    ray.add_argument(
        "--format", choices=("jsonl", "parquet"), help="file format (default: by extension)"
    )
    _add_model_options(parser)
    return parser


def _run_batch(args: argparse.Namespace) -> int:
    if args.ray:
        return _run_ray_batch(args)
    from restore.batch import run_batch
    from restore.errors import InputError

    if args.checkpoint_rows < 1:
        raise InputError("--checkpoint-rows must be at least 1")
    restorer = _load_restorer(args)
    summary = run_batch(
        restorer,
        args.input,
        args.output,
        field=args.field,
        errors_path=args.errors,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        include_units=args.units,
        include_suggestions=args.suggestions,
        detect=args.detect,
        html=args.html,
        checkpoint_rows=args.checkpoint_rows,
        job={
            "model": str(args.model),
            "backend": args.backend,
            "guard": _guard(args),
            "threads": args.threads,
        },
    )
    print(
        f"restore batch: {summary.rows} rows restored to {summary.output}; "
        f"{summary.errors} malformed rows written to {summary.errors_path}; "
        f"{summary.blank} blank lines skipped",
        file=sys.stderr,
    )
    return EXIT_MALFORMED_ROWS if summary.errors else EXIT_OK


def _run_ray_batch(args: argparse.Namespace) -> int:
    from restore.errors import InputError
    from restore.ray_batch import RayJob, run_ray_batch

    if args.resume:
        raise InputError("--resume is not supported with --ray (Ray retries failed tasks itself)")
    job = RayJob(
        model=str(args.model),
        backend=args.backend,
        field=args.field,
        guard=_guard(args),
        actors=args.actors,
        cpus_per_actor=args.cpus_per_actor,
        threads=args.threads or 1,
        batch_size=args.batch_size,
        file_format=args.format,
        detect=args.detect,
        suggestions=args.suggestions,
        units=args.units,
        html=args.html,
    )
    run_ray_batch(job, args.input, args.output, address=args.ray_address, overwrite=args.overwrite)
    print(f"restore batch --ray: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


# -- restore detect [FILE] ------------------------------------------------------------------


def _detect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restore detect",
        description="How likely FILE (or stdin), read as one document, was spun: the spin score "
        "(expected share of spun words), the calibrated probability that it was spun at all, "
        "and with --json the probability of every word.",
    )
    _add_document_options(parser)
    parser.add_argument("--json", action="store_true", help="print every word's probability")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="list words at or above this probability in the text view (default 0.5)",
    )
    _add_model_options(parser)
    return parser


def _run_detect(args: argparse.Namespace) -> int:
    text, page_encoding = _read_document(args)
    if text.strip():
        restorer = _load_restorer(args)
        detect = restorer.detect if page_encoding is None else restorer.detect_html
        detection = detect(text)
    else:  # no words to judge: the calibration's answer for none, without loading the model
        from restore.detection import build_detection, load_calibration

        checked = _check_model(args)
        checked.require_detection()
        detection = build_detection(text, (), load_calibration(checked.model_dir))
    if args.json:
        _write(json.dumps(detection.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    spun = detection.spun_probability
    lines = [
        f"spin score: {detection.spin_score:.3f} (expected share of spun words)",
        "probability spun: "
        + ("n/a (the model has no detection calibration)" if spun is None else f"{spun:.3f}"),
    ]
    likely = [w for w in detection.words if w.probability >= args.threshold]
    lines += [f"  {w.start}-{w.end}\t{w.probability:.2f}\t{w.word}" for w in likely]
    _write("\n".join(lines) + "\n")
    return EXIT_OK


# -- restore serve ---------------------------------------------------------------------------


def _serve_parser() -> argparse.ArgumentParser:
    from restore.serve import ServeSettings

    d = ServeSettings()
    parser = argparse.ArgumentParser(
        prog="restore serve",
        description="Serve a web page and a JSON API (POST /v1/restore, POST /v1/detect, "
        "GET /healthz, docs at /docs) over one loaded model. Needs pip install 'unspin[serve]'.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    limits.add_argument("--max-texts", type=int, default=d.max_texts, help="texts per request")
    limits.add_argument("--max-chars", type=int, default=d.max_chars, help="characters per text")
    limits.add_argument(
        "--max-concurrency", type=int, default=d.max_concurrency, help="model calls at a time"
    )
    limits.add_argument(
        "--timeout", type=float, default=d.timeout_s, help="seconds per request (503 after)"
    )
    _add_model_options(parser, default_threads=1)
    return parser


def _run_serve(args: argparse.Namespace) -> int:
    from restore.errors import InputError

    try:
        from restore.serve import ServeSettings, serve
    except ImportError as err:
        raise InputError(f"restore serve needs: pip install 'unspin[serve]' ({err})") from err
    settings = ServeSettings(
        max_body_bytes=args.max_body_bytes,
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        max_concurrency=args.max_concurrency,
        timeout_s=args.timeout,
    )
    try:
        settings.validate()
    except ValueError as err:
        raise InputError(str(err)) from err
    restorer = _load_restorer(args)
    serve(restorer, host=args.host, port=args.port, settings=settings, model_name=str(args.model))
    return EXIT_OK


# -- restore export-ct2 ----------------------------------------------------------------------


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restore export-ct2",
        description="Export a model directory to CTranslate2 for backend='ctranslate2'. "
        "Export into MODEL_DIR/ctranslate2 to load MODEL_DIR itself with that backend.",
    )
    parser.add_argument("model_dir", help="model directory (or 'default')")
    parser.add_argument("out_dir", help="export directory")
    parser.add_argument(
        "--quantization",
        default="int8",
        choices=("int8", "int8_float32", "int16", "float32"),
        help="weight type (default: int8)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return parser


def _run_export(args: argparse.Namespace) -> int:
    from restore.export import export_ctranslate2
    from restore.loading import resolve_model

    _quiet_transformers(args.verbose)
    out = export_ctranslate2(
        resolve_model(args.model_dir),
        args.out_dir,
        quantization=args.quantization,
        overwrite=args.overwrite,
    )
    print(f"restore export-ct2: wrote {out}", file=sys.stderr)
    return EXIT_OK


# -- shared options --------------------------------------------------------------------------


def _add_model_options(parser: argparse.ArgumentParser, *, default_threads: int | None = None):
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model", default="default", help="'default', a model directory or a Hub name"
    )
    group.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "torch-int8", "ctranslate2"),
        help="inference backend (default: torch)",
    )
    group.add_argument(
        "--threads", type=int, default=default_threads, help="CPU threads for the model"
    )
    group.add_argument("--batch-size", type=int, default=32, help="units per model call")
    guard = parser.add_argument_group("guard (overrides the model's restore.json)")
    guard.add_argument("--min-confidence", type=float, help="reject units below this")
    guard.add_argument("--min-edit-confidence", type=float, help="withhold single edits below this")
    guard.add_argument("--max-length-ratio", type=float, help="reject word-count ratios beyond")
    guard.add_argument(
        "--min-suggestion-confidence", type=float, help="suggest unmade edits from this"
    )
    guard.add_argument(
        "--keep-numbers",
        action=argparse.BooleanOptionalAction,
        help="reject units whose numbers change",
    )
    guard.add_argument(
        "--keep-names",
        action=argparse.BooleanOptionalAction,
        help="reject units whose names change",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")


def _guard(args: argparse.Namespace) -> dict:
    values = {
        "min_confidence": args.min_confidence,
        "min_edit_confidence": args.min_edit_confidence,
        "max_length_ratio": args.max_length_ratio,
        "keep_numbers": args.keep_numbers,
        "keep_names": args.keep_names,
        "min_suggestion_confidence": args.min_suggestion_confidence,
    }
    return {key: value for key, value in values.items() if value is not None}


def _load_restorer(args: argparse.Namespace):
    from restore.restorer import Restorer

    if args.backend != "ctranslate2":
        _quiet_transformers(args.verbose)
    with _bad_guard_is_bad_input():
        return Restorer.from_pretrained(
            args.model,
            backend=args.backend,
            guard=_guard(args) or None,
            threads=args.threads,
            batch_size=args.batch_size,
        )


def _check_model(args: argparse.Namespace):
    """What loading the model would refuse (model, settings, backend, guard), without loading."""
    from restore.restorer import check_model

    with _bad_guard_is_bad_input():
        return check_model(args.model, backend=args.backend, guard=_guard(args) or None)


@contextlib.contextmanager
def _bad_guard_is_bad_input():
    try:
        yield
    except ValueError as err:  # bad guard values
        from restore.errors import InputError

        raise InputError(str(err)) from err


def _quiet_transformers(verbose: bool) -> None:
    """No weight-loading progress bars or advice on stderr unless -v: the CLI's output is the
    restored text, and its stderr is for this program's messages.

    Set through the environment, which transformers reads when it is first imported: importing
    it here would cost seconds of start-up that the default model (plain torch) never needs.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if verbose:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:  # already imported (main called in-process): tell it too
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


_PARSERS = {
    "restore": _restore_parser,
    "batch": _batch_parser,
    "detect": _detect_parser,
    "serve": _serve_parser,
    "export-ct2": _export_parser,
}
_COMMANDS = {
    "restore": _run_restore,
    "batch": _run_batch,
    "detect": _run_detect,
    "serve": _run_serve,
    "export-ct2": _run_export,
}


if __name__ == "__main__":
    raise SystemExit(main())
