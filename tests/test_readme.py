"""The README's examples are what the shipped default model really returns.

Its ``python`` blocks run as doctests, in order, in one namespace; its ``console`` blocks run
every ``$`` command and compare the output shown; the examples in its prose are checked one by
one. The default model loads once for the module (about 6 s): the README's own calls of
``Restorer.from_pretrained("default")`` and the CLI's share it, since threads change speed, not
outputs.
"""

from __future__ import annotations

import doctest
import io
import json
import random
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPUN = "The minister enumerated newspapermen that the rumbles would continue next week."
ORIGINAL = "The minister told reporters that the talks would continue next week."
MISSED = "The celebration ejects journalists outside the depository."


def blocks(language: str) -> list[str]:
    """The fenced blocks of ``language`` in the README, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def share(patch: pytest.MonkeyPatch, restorer) -> None:
    """Make ``Restorer.from_pretrained`` return ``restorer`` when asked for the default model
    with default options (any thread count); other requests load for real."""
    from restore import Restorer

    load = Restorer.from_pretrained

    def from_pretrained(name_or_path="default", *, threads=None, **options):
        defaults = {"backend": "torch", "guard": None, "batch_size": 32}
        if name_or_path == "default" and {**defaults, **options} == defaults:
            return restorer
        return load(name_or_path, threads=threads, **options)

    patch.setattr(Restorer, "from_pretrained", from_pretrained)


@pytest.fixture(scope="module")
def restorer():
    from restore import Restorer

    return Restorer.from_pretrained("default", threads=1)


@pytest.fixture
def cli(monkeypatch, restorer, capsys):
    """``cli(argv, stdin=None) -> (exit code, stdout)``: the ``restore`` command, in-process."""
    from restore.cli import main

    share(monkeypatch, restorer)

    def run(argv: list[str], stdin: str | None = None) -> tuple[int, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        code = main(argv)
        return code, capsys.readouterr().out

    return run


@pytest.fixture(scope="module")
def python_examples(restorer):
    """Runs the README's python blocks as doctests; returns (results, report, namespace)."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner()
    report: list[str] = []
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        share(patch, restorer)
        for number, block in enumerate(blocks("python"), 1):
            test = parser.get_doctest(block, namespace, f"README python block {number}", None, 0)
            runner.run(test, out=report.append, clear_globs=False)
            namespace = test.globs
    return runner.summarize(verbose=False), "".join(report), namespace


def slugs(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown page."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_a_short_page_whose_links_resolve():
    assert README.count("\n") <= 300
    assert "../" not in README  # nothing outside the repository
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text):
            if target.startswith("http"):
                continue
            linked = (page.parent / target).resolve() if target else page
            assert linked.exists(), f"{page.name}: {target}"
            assert not anchor or anchor in slugs(linked), f"{page.name}: {target}#{anchor}"


def test_the_first_command_restores_its_own_example(cli):
    command = re.search(r'echo "([^"]+)" \| restore\n', README)
    assert command and command.group(1) == SPUN
    assert f"The first command prints `{ORIGINAL[:40]}" in README.replace("\n", " ")
    assert cli(["--threads", "1"], stdin=SPUN + "\n") == (0, ORIGINAL + "\n")


@pytest.mark.parametrize(
    ("original", "seed", "spun"),
    [
        (ORIGINAL, 2, SPUN),
        ("Police arrested two men on Friday.", 2, "Police dammed deuce men on Friday."),
        ("Prices rose sharply in March.", 0, "Prices rose aggressively in March."),
    ],
)
def test_the_example_was_made_by_our_spinner(original, seed, spun):
    from training.spinner import Spinner, SpinnerConfig

    assert Spinner(SpinnerConfig(rate=0.5)).spin(original, rng=random.Random(seed)).text == spun
    flat = README.replace("\n", " ")
    assert spun in flat and original in flat  # and the README shows it restored to the original


def test_the_labelled_mistake_is_what_the_model_returns(restorer):
    wrong = "The celebration ejects reporters outside the depository."
    flat = README.replace("\n", " ")
    assert MISSED in flat and f"comes back as **`{wrong}`**" in flat
    assert restorer.restore(MISSED) == wrong


def test_the_python_examples(python_examples):
    results, report, namespace = python_examples
    assert results.attempted >= 15 and results.failed == 0, report
    assert namespace["restorer"].detects


def test_the_detection_example(restorer):
    d = restorer.detect("The celebration ejects the press.")
    assert ">>> round(d.spin_score, 2)" in README and round(d.spin_score, 2) == 0.25
    shown = [(w.word, round(w.probability, 2)) for w in d.words]
    assert f"\n{shown}\n" in README


def test_the_console_examples(cli, tmp_path, monkeypatch):
    """Each ``$`` command of the console blocks runs in one folder, in order; what it prints
    is the block's next lines (compared word by word: the README may show tabs as spaces)."""
    monkeypatch.chdir(tmp_path)
    commands = 0
    for block in blocks("console"):
        for command in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            line, _, shown = command.partition("\n")
            words = shlex.split(line)
            if words[0] == "restore":
                code, printed = cli(words[1:])
                assert code == 0, line
            else:  # a shell command that prepares input
                printed = subprocess.run(
                    ["bash", "-c", line], check=True, capture_output=True, text=True
                ).stdout
            expected = [row.split() for row in shown.splitlines()]
            assert [row.split() for row in printed.splitlines()] == expected, line
            commands += 1
    assert commands >= 3


def test_the_json_views_have_the_fields_named(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doc.txt").write_text(SPUN + "\n", encoding="utf-8")
    assert "restore doc.txt --json  " in README and "restore detect doc.txt --json" in README
    code, printed = cli(["doc.txt", "--json"])
    assert code == 0 and list(json.loads(printed)) == ["text", "edits", "units", "suggestions"]
    code, printed = cli(["detect", "doc.txt", "--json"])
    detection = json.loads(printed)
    assert code == 0 and list(detection) == ["spin_score", "spun_probability", "words"]
    assert set(detection["words"][0]) == {"start", "end", "word", "probability"}


def test_the_batch_job_as_described(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "restore batch in.jsonl out.jsonl --field text" in README
    rows = [
        json.dumps({"id": 1, "text": "Police dammed deuce men on Friday."}),
        json.dumps({"id": 2}),
        "not json",
        "",
        json.dumps({"id": 3, "text": "The celebration ejects the press."}),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    argv = ["batch", "in.jsonl", "out.jsonl", "--field", "text", "--quiet"]
    assert cli([*argv, "--detect"])[0] == 1  # finished, but some rows were malformed
    out = [json.loads(row) for row in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["id"] for row in out] == [1, 3]
    assert [row["restored"] for row in out] == [
        "Police arrested two men on Friday.",
        "The celebration ejects the press.",
    ]
    assert set(out[0]) == {"id", "text", "restored", "edits", "spin"}
    assert set(out[0]["spin"]) == {"spin_score", "spun_probability"}
    errors = (tmp_path / "out.jsonl.errors.jsonl").read_text().splitlines()
    assert [json.loads(row)["line"] for row in errors] == [2, 3]
    before = (tmp_path / "out.jsonl").read_bytes()
    assert cli(argv)[0] == 2  # outputs exist: never replaced without --overwrite or --resume
    assert (tmp_path / "out.jsonl").read_bytes() == before


def test_every_restore_command_shown_parses_with_the_cli():
    """The ``sh`` blocks' commands that the tests do not run (Ray, serve, int8, export) are at
    least valid: each ``restore ...`` line parses with its subcommand's own parser."""
    from restore import cli

    commands = []
    for block in blocks("sh"):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("echo ") and "| restore" in line:
                line = line.split("| ", 1)[1]
            if line.startswith("restore"):
                commands.append(shlex.split(line)[1:])
    assert len(commands) >= 8
    for argv in commands:
        command = argv[0] if argv and argv[0] in cli.SUBCOMMANDS else "restore"
        parser = cli._PARSERS[command]()
        parser.parse_args(argv[1:] if command != "restore" else argv)  # exits 2 on a bad flag
