"""The kit command: user errors are one line and a non-zero exit, never a traceback."""

import subprocess
import sys

import pytest

from kit.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "kit.cli", *args], capture_output=True, text=True, env=env)


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("list", "generate", "baseline", "score"):
        assert cmd in r.stdout


def test_help_imports_nothing_heavy():
    # `kit --help` must be instant: the library's heavy dependencies load inside the commands
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "kit.cli", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
    assert not loaded & {"polars", "sklearn", "torch", "lightgbm", "optuna", "kaggle"}


def test_every_command_has_its_help():
    for cmd in ("list", "generate", "baseline", "score", "study", "download", "submit", "adversarial", "train",
                "blend", "tune", "run"):
        with pytest.raises(SystemExit) as done:
            main([cmd, "--help"])
        assert done.value.code == 0


def test_list_shows_all_five(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("bulldozers", "favorita", "planet", "porto_seguro", "rossmann"):
        assert name in out


def test_unknown_competition_is_one_line_no_traceback():
    r = run("generate", "nope", "--size", "tiny")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert "unknown competition 'nope'; known competitions: bulldozers" in r.stderr


def test_missing_submission_file(tmp_path, capsys):
    assert main(["score", "rossmann", str(tmp_path / "x.csv"), "--data-dir", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_generate_baseline_score_round_trip(tmp_path, capsys):
    data = tmp_path / "porto"
    assert main(["generate", "porto_seguro", "--size", "tiny", "--data-dir", str(data)]) == 0
    out = tmp_path / "sub.csv"
    assert main(["baseline", "porto_seguro", "--data-dir", str(data), "-o", str(out)]) == 0
    assert main(["score", "porto_seguro", str(out), "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert "public" in text and "private" in text and "GINI (higher is better)" in text


def test_malformed_submission_exit_code(tmp_path, capsys):
    data = tmp_path / "porto"
    main(["generate", "porto_seguro", "--size", "tiny", "--data-dir", str(data)])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,prediction\n1,0.5\n")
    assert main(["score", "porto_seguro", str(bad), "--data-dir", str(data)]) == 2
    assert "header is id,prediction but porto_seguro expects id,target" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["huge"])
def test_bad_size_is_argparse_error(size):
    r = run("generate", "rossmann", "--size", size)
    assert r.returncode == 2 and "invalid choice" in r.stderr
