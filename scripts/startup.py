"""Start-up time and peak memory of the ``restore`` command, each run in a fresh process.

    python scripts/startup.py [--runs 5] [--text TEXT | --input FILE [--field F]]
                              [--repeat-to BYTES] [--json OUT.json] [-- restore ARGS...]

Runs the command (``restore`` by default, after ``--`` any other) ``--runs`` times, feeding it
``--text`` (default: a one-sentence example) or the bytes of ``--input`` (with ``--field``, a
JSONL file's documents joined by blank lines) on stdin, repeated up to ``--repeat-to`` bytes if
asked, and reports the
median and maximum wall time and peak RSS (each child's own, from ``wait4``), the exit codes and
whether every run wrote the same output, with the CPU seconds used and the load average at the
end (on a busy machine, wall time includes waiting for a core). Nothing is timed inside the
process: the figures include the interpreter, the imports and loading the model, as a user
waits for them.

    python scripts/startup.py --runs 5                      # one sentence
    python scripts/startup.py --runs 5 --text ""            # empty stdin
    python scripts/startup.py --runs 1 --input tests/data/tiny_news.jsonl --field text \
        --repeat-to 1000000                                 # one 1 MB document
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

SENTENCE = "The minister enumerated newspapermen that the rumbles would continue next week.\n"


class Run(NamedTuple):
    """One run of the command: wall seconds, peak RSS in MB, exit code, its stdout, and the CPU
    seconds it used (user + system: on a busy machine, wall time waits for a core too)."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    output: bytes
    cpu_seconds: float = 0.0


def run_once(command: list[str], stdin: bytes) -> Run:
    """Run ``command`` with ``stdin`` in a fresh process; its own peak RSS comes from
    ``wait4`` (``getrusage(RUSAGE_CHILDREN)`` would give the maximum over all runs so far)."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout:
        fin.write(stdin)
        fin.seek(0)
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: stdin and stdout from the files, then the command
            try:
                os.dup2(fin.fileno(), 0)
                os.dup2(fout.fileno(), 1)
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - started
        fout.seek(0)
        output = fout.read()
    # ru_maxrss is in kilobytes on Linux.
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), output, cpu)


def document(data: bytes, *, field: str | None = None, repeat_to: int | None = None) -> bytes:
    """The stdin to feed: ``data``, or with ``field`` the JSONL rows' ``field`` joined by blank
    lines; with ``repeat_to``, repeated (blank lines between copies) and cut to that many bytes
    at a character boundary.

    >>> document(b'{"t": "a b"}\\n{"t": "c"}\\n', field="t")
    b'a b\\n\\nc'
    >>> document("né".encode(), repeat_to=7)  # "né\\n\\nné" cut inside the second é
    b'n\\xc3\\xa9\\n\\nn'
    """
    if field is not None:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        data = "\n\n".join(row[field] for row in rows).encode("utf-8")
    if repeat_to is None:
        return data
    copies = -(-repeat_to // (len(data) + 2))  # ceiling
    text = b"\n\n".join([data] * copies)[:repeat_to]
    return text.decode("utf-8", errors="ignore").encode("utf-8")


def summarise(runs: list[Run]) -> dict:
    """Medians and maxima over the runs, their exit codes, and whether the outputs agree."""
    seconds = [r.seconds for r in runs]
    rss = [r.peak_rss_mb for r in runs]
    return {
        "runs": len(runs),
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "median_cpu_s": round(statistics.median(r.cpu_seconds for r in runs), 2),
        "median_peak_rss_mb": round(statistics.median(rss), 1),
        "max_peak_rss_mb": round(max(rss), 1),
        "returncodes": sorted({r.returncode for r in runs}),
        "same_output": len({r.output for r in runs}) == 1,
        "seconds": [round(s, 2) for s in seconds],
        "peak_rss_mb": [round(m, 1) for m in rss],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes (default 5)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", help="stdin for the command (default: one spun sentence)")
    source.add_argument("--input", type=Path, help="a file whose bytes are the command's stdin")
    parser.add_argument("--field", help="--input is JSONL: its documents' field, blank-line joined")
    parser.add_argument("--repeat-to", type=int, help="repeat the input up to this many bytes")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("command", nargs="*", help="the command (default: restore)")
    args = parser.parse_args(argv)
    command = args.command or ["restore"]
    if shutil.which(command[0]) is None:
        parser.error(f"{command[0]} is not on PATH")
    if args.input is not None:
        data = args.input.read_bytes()
    else:
        data = (SENTENCE if args.text is None else args.text).encode("utf-8")
    stdin = document(data, field=args.field, repeat_to=args.repeat_to)
    runs = [run_once(command, stdin) for _ in range(args.runs)]
    summary = {
        "command": command,
        "stdin_bytes": len(stdin),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **summarise(runs),
    }
    print(json.dumps(summary, indent=2))
    first = runs[0].output.decode("utf-8", errors="replace")
    print(f"output of the first run ({len(runs[0].output)} bytes): {first[:300]!r}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if summary["returncodes"] == [0] and summary["same_output"] else 1


if __name__ == "__main__":
    sys.exit(main())
