"""HTML pages: what a reader sees is restored, the markup comes back byte for byte."""

from __future__ import annotations

import codecs
import html
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restore.cli import main
from restore.markup import ACROSS_MARKUP, decode_page, encode_page, extract, place
from restore.restorer import Edit, Restoration, UnitReport
from restore.settings import GuardSettings

NO_GUARD = GuardSettings(max_length_ratio=1e9, keep_numbers=False, keep_names=False)
PAGE = (
    "<!DOCTYPE html>\n<html><head><title>He ejects them</title>\n"
    "<style>p { content: 'ejects'; }</style>\n"
    '<script>if (a < b && c) { s = "<p>ejects</p>"; }</script></head>\n'
    '<body><!-- ejects --><h1 title="ejects">A   big\n  dog</h1>\n'
    '<p class="ejects">The <a href="/ejects">dog</a> ejects&nbsp;the <em>big</em> crowd'
    " &amp; R&amp;D.<br>Then it <b>eje</b>cts them.</p>\n"
    "<pre>dog ejects</pre><code>big</code><ul><li>quick dog</li></ul></body></html>"
)
SEEN = (
    "He ejects them\n\nA big dog\n\nThe dog ejects the big crowd & R&D.\n\nThen it ejects them."
    "\n\nquick dog"
)


def test_a_page_reads_as_a_reader_sees_it():
    seen = extract(PAGE)
    assert seen.text == SEEN
    assert len(seen.sources) == len(seen.runs) == len(seen.text)


def test_every_character_read_points_at_its_place_in_the_page():
    seen = extract(PAGE)
    for char, source, run in zip(seen.text, seen.sources, seen.runs):
        if run == -1:  # block breaks and decoded entities
            assert char in "\n &" or PAGE[source] in "<&"
        elif char == " ":
            assert PAGE[source].isspace()
        else:
            assert PAGE[source] == char


def _text_span(seen, words: str) -> tuple[int, int]:
    start = seen.text.index(words)
    return start, start + len(words)


def test_edits_land_on_the_page_and_edits_across_markup_are_not_made():
    seen = extract(PAGE)
    text = seen.text

    def edit(words: str, restored: str, after: int = 0) -> Edit:
        start = text.index(words, after)
        return Edit(start, start + len(words), words, restored, 0.9)

    ejects = text.index("ejects the big")
    edits = (
        edit("ejects", "greets", ejects),  # plain text inside <p>
        edit("crowd", "mob & co"),  # the restored words are escaped
        edit("R&D", "research"),  # an entity inside: not placed
        edit("ejects", "greets", text.index("Then")),  # split by <b>: not placed
    )
    units = tuple(UnitReport(m.start(), m.end(), "restored") for m in re.finditer(r"[^\n]+", text))
    result = place(PAGE, seen, Restoration(text, edits, units))

    assert result.text == PAGE.replace("ejects&nbsp;", "greets&nbsp;").replace(
        "crowd &amp;", "mob &amp; co &amp;"
    )
    assert [(e.spun, e.restored) for e in result.edits] == [
        ("ejects", "greets"),
        ("crowd", "mob & co"),
    ]
    for placed in result.edits:
        assert PAGE[placed.start : placed.end] == placed.spun
    reasons = {PAGE[u.start : u.end][:8]: u.reasons for u in result.units}
    assert reasons["The <a h"] == (ACROSS_MARKUP,)  # R&D
    assert reasons["Then it "] == (ACROSS_MARKUP,)
    assert reasons["He eject"] == ()
    assert PAGE[result.units[0].start : result.units[0].end] == "He ejects them"


SUMMARY_PAGE = (
    '<html><head><meta charset="utf-8"><meta name="Description" content="He ejects  them">\n'
    "<meta property='og:title' content='Big &amp; ejects'><meta name=twitter:title content=ejects>"
    '<meta name="keywords" content="ejects"><meta property="og:url" content="/ejects">'
    '</head><body><noscript><img alt="ejects"></noscript>'
    '<p>A dog <img src="d.png" alt="the dog ejects"/> ejects.</p><img alt=""><img alt></body>'
)


def test_a_pages_summary_and_alt_text_read_as_blocks_of_their_own(stub_restorer):
    seen = extract(SUMMARY_PAGE)
    assert seen.text == (
        "He ejects them\n\nBig & ejects\n\nejects\n\nA dog\n\nthe dog ejects\n\nejects."
    )
    for char, source, run in zip(seen.text, seen.sources, seen.runs):
        if run != -1 and char != " ":
            assert SUMMARY_PAGE[source] == char
    result = stub_restorer(lambda s: s.replace("ejects", "gre'ts"), guard=NO_GUARD).restore_html(
        SUMMARY_PAGE
    )
    # Keywords, addresses and what <noscript> holds are not prose; a restored quote is escaped
    # in an attribute, so that the attribute still ends where it did.
    assert result.text == (
        SUMMARY_PAGE.replace('"He ejects', '"He gre&#x27;ts')
        .replace("&amp; ejects'", "&amp; gre&#x27;ts'")
        .replace("content=ejects>", "content=gre&#x27;ts>")
        .replace('dog ejects"/>', 'dog gre&#x27;ts"/>')
        .replace("> ejects.", "> gre'ts.")
    )
    assert extract(result.text).text == seen.text.replace("ejects", "gre'ts")


def test_restorer_restores_only_what_a_reader_sees(stub_restorer):
    restorer = stub_restorer(lambda s: s.replace("ejects", "greets"), guard=NO_GUARD)
    result = restorer.restore_html(PAGE)
    # The title and the paragraph change; scripts, styles, comments, attributes, code and the
    # word <b> splits do not.
    assert result.text == PAGE.replace("He ejects", "He greets").replace(
        "ejects&nbsp;", "greets&nbsp;"
    )
    assert all(PAGE[e.start : e.end] == e.spun == "ejects" for e in result.edits)
    assert [r.text for r in restorer.restore_html_iter(["<p>ejects</p>", "", "ejects"])] == [
        "<p>greets</p>",
        "",
        "greets",
    ]
    with pytest.raises(TypeError):
        restorer.restore_html(b"<p>ejects</p>")
    with pytest.raises(TypeError):
        next(restorer.restore_html_iter("<p>ejects</p>"))


HOSTILE = [
    "",
    "<",
    "<p",
    "</p></div></body>",
    "<script>never closed ejects",
    "<p>unclosed <b>bold <i>ejects",
    "<!-- unclosed comment ejects",
    "<![CDATA[ ejects ]]> ejects",
    "<p <b>ejects</b>>",
    "a < b & c > d &bogus; &#xZZ; &#99999999; ejects",
    '<img src=x onerror="alert(1)"><svg><script>ejects</script></svg>ejects',
    "<div>" * 500 + "ejects" + "</div>" * 500,
    "\x00<p>\ud800 ejects</p>",
]


@pytest.mark.parametrize("page", HOSTILE)
def test_hostile_pages_pass_through_without_a_crash(stub_restorer, page):
    assert stub_restorer(lambda s: s).restore_html(page).text == page
    changed = stub_restorer(lambda s: s.replace("ejects", "greets"), guard=NO_GUARD)
    result = changed.restore_html(page)
    # Whatever is edited is page text outside any markup.
    for edit in result.edits:
        assert page[edit.start : edit.end] == edit.spun == "ejects"
    assert result.text.count("greets") == len(result.edits)


_pages = st.lists(
    st.one_of(
        st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<br>", "<!-- x -->", "&amp;", "&nbsp;"]),
        st.sampled_from(['<img alt="', "<meta name=description content='", '"', "'", ">"]),
        st.sampled_from(["ejects", "big", "dog", " ", "\n", "<script>", "</script>"]),
        st.text(alphabet="ab <>&;/\n", max_size=6),
    ),
    max_size=30,
).map("".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_pages)
def test_property_a_page_changes_only_inside_its_edits(stub_restorer, page):
    result = stub_restorer(lambda s: s.replace("ejects", "greets"), guard=NO_GUARD).restore_html(
        page
    )
    out, pos = result.text, 0
    for edit in result.edits:
        assert page[edit.start : edit.end] == edit.spun
        gap = page[pos : edit.start]
        assert out.startswith(gap)
        out = out[len(gap) :]
        # In an attribute's value, a restored quote comes escaped.
        written = next(w for w in (edit.restored, html.escape(edit.restored)) if out.startswith(w))
        out = out[len(written) :]
        pos = edit.end
    assert out == page[pos:]


def _model_args(tiny_model) -> list[str]:
    return ["--model", str(tiny_model), "--threads", "1"]


def test_command_line_reads_html_files_as_pages(tmp_path, capsys, tiny_model, tiny_restorer):
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    assert main([str(page), "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsys.readouterr().out) == tiny_restorer.restore_html(PAGE).to_dict()
    assert main([str(page), "--text", "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsys.readouterr().out) == tiny_restorer.restore_detailed(PAGE).to_dict()
    named = tmp_path / "page.txt"
    named.write_text(PAGE, encoding="utf-8")
    assert main([str(named), "--html", "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsys.readouterr().out) == tiny_restorer.restore_html(PAGE).to_dict()


PAGES = [
    '<p class="x">The council will <a href="/ballot">ballot</a> on the plan.</p>',
    "<html><script>ballot()</script><body><h1>Restitute</h1><p>They sanction the park.</p>",
    "",
    "no markup: they ballot",
]


def test_batch_rows_read_as_pages(tmp_path, tiny_detect_model):
    from restore import Restorer
    from restore.batch import run_batch

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "html": p}) + "\n" for i, p in enumerate(PAGES)))
    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    out = tmp_path / "out.jsonl"
    run_batch(restorer, source, out, field="html", html=True, detect=True, progress=False)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # The same batches as one stream of the pages, so the same floats.
    wanted = restorer.restore_html_iter(PAGES)
    for row, page, want in zip(rows, PAGES, wanted, strict=True):
        assert (row["restored"], row["edits"]) == (want.text, want.to_dict()["edits"])
        # Spin is the page text's, not diluted by the words of its markup.
        spin = restorer.detect_html(page).to_dict(words=False)
        assert row["spin"] == pytest.approx(spin, rel=1e-5)
    from restore.errors import InputError

    with pytest.raises(InputError, match="cannot resume: job"):
        run_batch(restorer, source, out, field="html", detect=True, progress=False, resume=True)


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        (b"<p>caf\xc3\xa9</p>", "<p>café</p>", "utf-8"),
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "\ufeff<p>café</p>", "utf-8"),
        ("\ufeff<p>café</p>".encode("utf-16-be"), "\ufeff<p>café</p>", "utf-16-be"),
        (
            b'<META CHARSET="ISO-8859-1"><p>caf\xe9</p>',
            '<META CHARSET="ISO-8859-1"><p>café</p>',
            "cp1252",
        ),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>\xf0</p>',
            '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>П</p>',
            "koi8-r",
        ),
        (b"<meta charset=utf-16><p>x</p>", "<meta charset=utf-16><p>x</p>", "utf-8"),
        # A byte windows-1252 leaves undefined comes through, and goes back, as it was.
        (
            b"<meta charset=windows-1252><p>\x81</p>",
            "<meta charset=windows-1252><p>\udc81</p>",
            "cp1252",
        ),
    ],
)
def test_pages_are_decoded_as_they_declare_and_encode_back_to_the_same_bytes(data, text, encoding):
    assert decode_page(data) == (text, encoding)
    assert encode_page(text, encoding) == data
    assert extract(text).text == extract(text.lstrip("\ufeff")).text


def test_undecodable_pages_raise():
    with pytest.raises(LookupError):
        decode_page(b'<meta charset="no-such-code"><p>x</p>')
    with pytest.raises(UnicodeDecodeError):
        decode_page(b"<p>caf\xe9</p>")


def test_command_line_writes_a_page_back_in_its_own_encoding(
    tmp_path, capsysbinary, tiny_model, tiny_restorer
):
    page = '<meta charset="windows-1252"><h1>Zoë</h1><p>The big dog ejects it \u2014 café.</p>'
    path = tmp_path / "page.html"
    path.write_bytes(page.encode("cp1252") + b"<p>\x81</p>")
    assert main([str(path), *_model_args(tiny_model)]) == 0
    out = capsysbinary.readouterr().out
    want = tiny_restorer.restore_html(page + "<p>\udc81</p>").text
    assert out == encode_page(want, "cp1252")
    assert out.endswith(b"<p>\x81</p>")
    assert main([str(path), "--json", *_model_args(tiny_model)]) == 0
    assert json.loads(capsysbinary.readouterr().out)["text"] == want
    wide = tmp_path / "wide.html"  # UTF-16: NUL bytes, but no NUL character
    wide.write_text(page, encoding="utf-16")
    assert main([str(wide), *_model_args(tiny_model)]) == 0
    written = capsysbinary.readouterr().out
    assert written == encode_page(tiny_restorer.restore_html("\ufeff" + page).text, "utf-16-le")
    assert written.startswith(codecs.BOM_UTF16_LE)
    bad = tmp_path / "bad.html"
    bad.write_bytes(b'<meta charset="no-such-code"><p>x</p>')
    assert main([str(bad), *_model_args(tiny_model)]) == 2
    assert b"no-such-code" in capsysbinary.readouterr().err
    bad.write_bytes(b"<p>caf\xe9</p>")
    assert main([str(bad), *_model_args(tiny_model)]) == 2
    assert b"declares no encoding" in capsysbinary.readouterr().err
