"""The HTTP API on a real uvicorn server on 127.0.0.1: answers, limits and bad input."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from restore.serve import ServeSettings, build_app  # noqa: E402

TEXT = "The council will ballot on the plan to restitute the park. <script>alert(1)</script>"


@pytest.fixture(scope="module")
def restorer(tiny_detect_model):
    from restore import Restorer

    return Restorer.from_pretrained(tiny_detect_model, threads=1)


@pytest.fixture
def server(live_server, restorer):
    return live_server(build_app(restorer, ServeSettings(max_texts=4, max_chars=5000)))


def request(server, method, path, body=None, headers=None):
    """(status, parsed JSON or text, headers) of one request; ``body`` bytes are sent as is."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        parsed = json.loads(data) if kind.startswith("application/json") else data.decode()
        return response.status, parsed, dict(response.getheaders())
    finally:
        conn.close()


def test_restore_and_detect_answer_as_the_library_does(server, restorer):
    status, data, _ = request(server, "POST", "/v1/restore", {"text": TEXT})
    assert status == 200
    [result] = data["results"]
    want = restorer.restore_detailed(TEXT)
    assert result["text"] == want.text
    assert result["edits"] == [json.loads(json.dumps(e.to_dict())) for e in want.edits]
    assert result["suggestions"] == [json.loads(json.dumps(e.to_dict())) for e in want.suggestions]
    detection = restorer.detect(TEXT)
    assert result["detection"] == {"spin_score": detection.spin_score, "spun_probability": None}

    texts = [TEXT, "", "Riverside Park is open."]
    status, data, _ = request(server, "POST", "/v1/detect", {"texts": texts})
    assert status == 200
    assert data["results"] == [
        json.loads(json.dumps(d.to_dict())) for d in restorer.detect_batch(texts)
    ]
    status, data, _ = request(server, "POST", "/v1/restore", {"texts": texts})
    assert [r["text"] for r in data["results"]] == restorer.restore_batch(texts)


def test_pages_are_read_as_a_reader_sees_them(server, restorer):
    pages = [
        '<p title="ballot">The council will <b>ballot</b> on it.</p><script>ballot()</script>',
        "",
    ]
    status, data, _ = request(server, "POST", "/v1/restore", {"texts": pages, "html": True})
    assert status == 200
    wanted = list(restorer.restore_html_iter(pages))
    assert [r["text"] for r in data["results"]] == [w.text for w in wanted]
    assert data["results"][0]["edits"] == json.loads(json.dumps(wanted[0].to_dict()["edits"]))
    spin = restorer.detect_html(pages[0]).spin_score
    assert data["results"][0]["detection"]["spin_score"] == pytest.approx(spin, rel=1e-5)
    status, data, _ = request(server, "POST", "/v1/detect", {"text": pages[0], "html": True})
    assert data["results"] == [json.loads(json.dumps(restorer.detect_html(pages[0]).to_dict()))]
    assert request(server, "POST", "/v1/detect", {"text": "a", "html": "yes"})[0] == 422


def test_health_docs_and_page(server):
    status, data, _ = request(server, "GET", "/healthz")
    assert status == 200 and data["status"] == "ok" and data["limits"]["max_texts"] == 4
    status, spec, _ = request(server, "GET", "/openapi.json")
    assert status == 200 and {"/v1/restore", "/v1/detect", "/healthz"} <= set(spec["paths"])
    status, page, _ = request(server, "GET", "/docs")
    assert status == 200 and "/static/docs.js" in page and "cdn" not in page.lower()
    assert request(server, "GET", "/redoc")[0] == 404
    status, page, headers = request(server, "GET", "/")
    assert status == 200 and "<textarea" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    for name in ("app.js", "style.css", "docs.js"):
        status, body, _ = request(server, "GET", f"/static/{name}")
        assert status == 200 and "http://" not in body and "https://" not in body
        if name.endswith(".js"):
            assert "innerHTML" not in body  # user text only ever goes in as textContent
    assert request(server, "GET", "/static/../serve.py")[0] == 404
    assert request(server, "GET", "/static/secret.txt")[0] == 404


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b'{"text": "unclosed', 422, "not valid JSON"),
        (b"not json at all", 422, "not valid JSON"),
        ({"text": 5}, 422, "string"),
        ({"texts": "one text"}, 422, "list"),
        ({"texts": ["fine", 3]}, 422, "string"),
        ({"texts": []}, 422, "'texts' is empty"),
        ({}, 422, "exactly one of"),
        ({"text": "a", "texts": ["b"]}, 422, "exactly one of"),
        ({"text": "a", "extra": 1}, 422, "Extra inputs"),
        ({"texts": ["a"] * 5}, 422, "at most 4"),
        ({"text": "a" * 5001}, 422, "at most 5000"),
        ([TEXT], 422, ""),
    ],
)
def test_bad_input_gets_a_clear_4xx(server, body, status, message):
    got, data, _ = request(server, "POST", "/v1/restore", body)
    assert got == status
    assert message in json.dumps(data["detail"])


def test_invalid_utf8_and_non_json_bodies_are_refused(server):
    body = b'{"text": "caf\xe9 \xff"}'
    status, data, _ = request(server, "POST", "/v1/detect", body)
    assert status == 400
    assert data["detail"] == "the body is not valid UTF-8 (byte 0xe9 at 13)"
    headers = {"Content-Type": "text/plain"}
    status, data, _ = request(server, "POST", "/v1/restore", b"hello", headers)
    assert status == 415 and "Content-Type: application/json" in data["detail"]


def test_a_2mb_body_gets_413_before_the_model(server):
    body = json.dumps({"text": "word " * 400_000}).encode()
    assert len(body) > 2_000_000
    status, data, _ = request(server, "POST", "/v1/restore", body)
    assert status == 413
    assert "too large" in data["detail"] and "1000000" in data["detail"]
    # A chunked body without a length is counted as it arrives.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/v1/restore")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for start in range(0, len(body), 65536):
            chunk = body[start : start + 65536]
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before the whole body is sent
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
    # The server still answers.
    assert request(server, "GET", "/healthz")[0] == 200


class SlowRestorer:
    """Records how many calls run at once; each call sleeps ``delay`` seconds."""

    calibration = None

    def __init__(self, delay):
        self.delay = delay
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def restore_detailed_iter(self, texts):
        from restore.restorer import Restoration

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        return [Restoration(t) for t in texts]

    def detect_batch(self, texts):
        from restore.detection import build_detection

        return [build_detection(r.text, ()) for r in self.restore_detailed_iter(texts)]


def test_concurrency_cap_and_timeout(live_server):
    slow = SlowRestorer(0.3)
    server = live_server(build_app(slow, ServeSettings(max_concurrency=2, timeout_s=10)))

    def call(i):
        return request(server, "POST", "/v1/detect", {"text": f"t{i}"})[0]

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(call, range(6)))
    assert statuses == [200] * 6
    assert slow.most == 2

    stuck = SlowRestorer(2.0)
    server = live_server(build_app(stuck, ServeSettings(max_concurrency=1, timeout_s=0.3)))
    status, data, _ = request(server, "POST", "/v1/restore", {"text": "slow"})
    assert status == 503 and "did not answer within 0.3 s" in data["detail"]


def test_a_model_that_does_not_detect_restores_without_a_score(live_server, tiny_model):
    from restore import Restorer

    restorer = Restorer.from_pretrained(tiny_model, threads=1)
    server = live_server(build_app(restorer))
    status, data, _ = request(server, "POST", "/v1/restore", {"text": TEXT})
    assert status == 200 and data["results"][0]["detection"] is None
    assert data["results"][0]["text"] == restorer.restore(TEXT)
    status, data, _ = request(server, "POST", "/v1/detect", {"text": TEXT})
    assert status == 501 and "no word spin" in data["detail"]


def test_serve_binds_localhost_by_default():
    from restore.cli import _serve_parser

    args = _serve_parser().parse_args([])
    assert args.host == "127.0.0.1" and args.port == 8000 and args.threads == 1
