"""``restore URL``: a page fetched over HTTP from a local server, restored like a file."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from restore.cli import main
from restore.errors import InputError
from restore.fetch import fetch
from restore.markup import encode_page

PAGE = "<html><body><p>The big dog ejects it. Zoë’s café.</p><script>dog()</script></body>"
TEXT = "The big dog ejects it.\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {
        "/page": ("text/html; charset=windows-1252", PAGE.replace("’", "'").encode("cp1252")),
        "/plain": ("text/plain; charset=utf-8", TEXT.encode()),
        "/moved": None,
    }

    def do_GET(self):  # noqa: N802 (the handler's protocol)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        if self.path not in self.routes:
            self.send_error(404)
            return
        kind, body = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _model_args(tiny_model) -> list[str]:
    return ["--model", str(tiny_model), "--threads", "1"]


def test_a_page_at_an_address_is_restored_as_a_page(site, capsysbinary, tiny_model, tiny_restorer):
    page = PAGE.replace("’", "'")
    want = tiny_restorer.restore_html(page)
    for path in ("/page", "/moved"):  # redirects are followed
        assert main([site + path, *_model_args(tiny_model)]) == 0
        # In the charset the server named, which the page itself does not declare.
        assert capsysbinary.readouterr().out == encode_page(want.text, "cp1252")
    assert main([site + "/page", "--text", "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsysbinary.readouterr().out)["text"] == tiny_restorer.restore(page)


def test_plain_text_at_an_address_is_restored_as_text(
    site, capsysbinary, tiny_model, tiny_restorer
):
    assert main([site + "/plain", *_model_args(tiny_model)]) == 0
    assert capsysbinary.readouterr().out.decode() == tiny_restorer.restore(TEXT)
    assert main([site + "/plain", "--html", "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsysbinary.readouterr().out) == tiny_restorer.restore_html(TEXT).to_dict()


def test_failed_fetches_exit_2_with_the_reason(site, capsys, tiny_model):
    assert main([site + "/missing", *_model_args(tiny_model)]) == 2
    assert "404" in capsys.readouterr().err
    assert main(["http://127.0.0.1:9/", *_model_args(tiny_model)]) == 2  # nothing listens
    assert "cannot fetch" in capsys.readouterr().err
    with pytest.raises(InputError, match="larger than 10 bytes"):
        fetch(site + "/page", max_bytes=10)
    with pytest.raises(InputError, match="not an http"):
        fetch("file:///etc/passwd")
