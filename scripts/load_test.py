"""A bounded local load test of ``restore serve``: N requests, C at a time, on 127.0.0.1 only.

    python scripts/load_test.py --requests 200 --concurrency 8 [--model default]

Starts ``restore serve`` as a child process on 127.0.0.1 (a free port), sends ``--requests``
POST /v1/restore requests of one spun paragraph each (the fixture news paragraphs, spun by
``training.spinner`` at ``--rate``), ``--concurrency`` at a time, then stops the server, and
checks every answer against ``Restorer.restore`` on the same text in this process. Prints
p50/p95/max latency, throughput, the error count and mismatches as JSON; exits 1 if any
request failed or any answer differed. It ends by itself: nothing is retried.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # never anything else


def spun_paragraphs(path: Path, rate: float, seed: int) -> list[str]:
    """The paragraphs of a news JSONL file, spun at ``rate`` (0: as they are)."""
    from restore.text import split_paragraphs

    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            text = json.loads(line)["text"]
            texts += [text[a:b] for a, b in split_paragraphs(text)]
    if not rate:
        return texts
    from training.spinner import Spinner, SpinnerConfig

    spinner = Spinner(SpinnerConfig(rate=rate))
    return [spinner.spin(t, rng=random.Random(seed * 1000 + i)).text for i, t in enumerate(texts)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def post(port: int, text: str, timeout: float) -> tuple[int, float, str | None]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        body = json.dumps({"text": text}).encode()
        conn.request("POST", "/v1/restore", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        restored = json.loads(data)["results"][0]["text"] if response.status == 200 else None
        return response.status, time.perf_counter() - start, restored
    except (OSError, ValueError, KeyError):
        return 0, time.perf_counter() - start, None
    finally:
        conn.close()


def wait_healthy(port: int, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"restore serve exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("restore serve did not become healthy")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=1, help="server model threads")
    parser.add_argument("--max-concurrency", type=int, default=2, help="server model calls")
    parser.add_argument("--texts", default=str(ROOT / "tests" / "data" / "tiny_news.jsonl"))
    parser.add_argument("--rate", type=float, default=0.3, help="spin rate (0: unspun)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    args = parser.parse_args(argv)
    if not (1 <= args.requests <= 10_000 and 1 <= args.concurrency <= 64):
        parser.error("--requests must lie in [1, 10000] and --concurrency in [1, 64]")

    texts = spun_paragraphs(Path(args.texts), args.rate, args.seed)
    port = free_port()
    # The server runs this checkout's code, whatever is installed.
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    command = [
        sys.executable, "-m", "restore", "serve", "--host", HOST, "--port", str(port),
        "--model", args.model, "--threads", str(args.threads),
        "--max-concurrency", str(args.max_concurrency), "--timeout", str(args.timeout),
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(port, server, timeout=120)
        order = [texts[i % len(texts)] for i in range(args.requests)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            answers = list(pool.map(lambda t: post(port, t, args.timeout), order))
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    from restore import Restorer

    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    expected = {t: restorer.restore(t) for t in set(order)}
    latencies = [latency for _, latency, _ in answers]
    errors = sum(1 for status, _, _ in answers if status != 200)
    mismatches = sum(
        1 for t, (status, _, got) in zip(order, answers) if status == 200 and got != expected[t]
    )
    report = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "server": {"threads": args.threads, "max_concurrency": args.max_concurrency},
        "distinct_texts": len(set(order)),
        "words_per_text": round(statistics.mean(len(t.split()) for t in order), 1),
        "errors": errors,
        "mismatches": mismatches,
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "requests_per_s": round(args.requests / wall, 2),
        "wall_s": round(wall, 2),
    }
    print(json.dumps(report, indent=2))
    return 1 if errors or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
