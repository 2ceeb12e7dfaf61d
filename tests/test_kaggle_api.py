"""The official kaggle client behind kit: credentials, error translation, retries, submissions.

Client calls go over the real HTTP path to the loopback stub in tests/kaggle_stub.py.
"""

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from kaggle_stub import KEY, TOKEN, USERNAME, kaggle_home, kaggle_stub, stub_server  # noqa: F401 - fixtures
from kit import kaggle_api
from kit.data.download import download
from kit.errors import KitError
from kit.kaggle_api import Kaggle, Retry, find_credentials, redact
from kit.spec import get
from kit.submission import score

ROSSMANN = get("rossmann").spec
FAST = Retry(tries=3, base_delay=0.001)


# --------------------------------------------------------------------------- credentials


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """An empty HOME and no KAGGLE_* variables: no credentials anywhere."""
    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name == "XDG_CONFIG_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_credentials_says_where_to_put_them(home):
    with pytest.raises(KitError, match=r"^no Kaggle credentials found: create an API token at "
                                       r"https://www\.kaggle\.com/settings/api, then either `export "
                                       r"KAGGLE_API_TOKEN=<token>` or save it in ~/\.kaggle/access_token "
                                       r"\(chmod 600\); a legacy kaggle\.json \(username and key\) goes in "
                                       rf"{home}/\.config/kaggle/ \(or set \$KAGGLE_CONFIG_DIR\)$"):
        find_credentials()


def test_credentials_found_in_the_clients_order(home, monkeypatch):
    write(home / ".config" / "kaggle" / "kaggle.json", json.dumps({"username": "json-user", "key": "json-key-1"}))
    creds = find_credentials()  # no ~/.kaggle: the XDG folder, as the client does on Linux
    assert (creds.method, creds.username, creds.source) == (
        "api_key", "json-user", str(home / ".config" / "kaggle" / "kaggle.json"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / "cfg"))
    write(home / "cfg" / "kaggle.json", json.dumps({"username": "cfg-user", "key": "cfg-key-1"}))
    assert find_credentials().username == "cfg-user"
    monkeypatch.setenv("KAGGLE_KEY", "env-key-1")  # the environment overrides the file, field by field
    creds = find_credentials()
    assert creds.username == "cfg-user" and "env-key-1" in creds.secrets
    assert creds.source == f"{home / 'cfg' / 'kaggle.json'} and the environment"
    write(home / ".kaggle" / "access_token", "file-token-1\n")  # a token beats a key
    assert find_credentials() == kaggle_api.Credentials("access_token", str(home / ".kaggle" / "access_token"),
                                                        secrets=("file-token-1",))
    token_file = write(home / "tok", "path-token-1")
    monkeypatch.setenv("KAGGLE_API_TOKEN", str(token_file))  # the variable may name a file
    assert find_credentials().secrets == ("path-token-1",)
    monkeypatch.setenv("KAGGLE_API_TOKEN", "env-token-1")
    assert find_credentials().source == "$KAGGLE_API_TOKEN"


def test_oauth_login_counts(home):
    write(home / ".kaggle" / "credentials.json", json.dumps({"refresh_token": "rt-123456", "username": "me"}))
    creds = find_credentials()
    assert creds.method == "oauth" and creds.username == "me" and creds.secrets == ("rt-123456",)


def test_broken_kaggle_json_is_named(home, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / "cfg"))
    path = write(home / "cfg" / "kaggle.json", '{"username": "me", "key": ')
    with pytest.raises(KitError, match=rf"{path} is not valid JSON \(JSONDecodeError\); it should read "
                                       r'\{"username": "<your user name>", "key": "<your key>"\}'):
        find_credentials()
    write(path, json.dumps({"username": "me"}))
    with pytest.raises(KitError, match=rf"Kaggle credentials in {path} have a username but no key; add the key "
                                       r"\(or \$KAGGLE_KEY\)"):
        find_credentials()


def test_secrets_stay_out_of_repr_and_text(home, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret-key-value")
    creds = find_credentials()
    assert "s3cret" not in repr(creds) and "s3cret" not in str(creds)
    text = ("key s3cret-key-value; Authorization: Basic bWU6czNjcmV0LWtleS12YWx1ZQ== ; "
            "Bearer abcdefgh12345678; token KGAT_abc123; http://me:pw@host/x")
    assert redact(text, creds.secrets) == ("key ***; Authorization: Basic *** ; Bearer ***; token ***; "
                                           "http://***@host/x")


def test_client_output_is_redacted(capsys):
    with kaggle_api.redacted_output(("tok-secret-1",)):
        print("Authorization: Bearer tok-secret-1")
        print("sent tok-secret-1", file=sys.stderr)
    out = capsys.readouterr()
    assert out.out == "Authorization: Bearer ***\n" and out.err == "sent ***\n"


def test_retry_delays_double_up_to_the_cap():
    r = Retry(tries=6, base_delay=0.5, max_delay=3)
    assert [r.delay(i) for i in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]
    with pytest.raises(ValueError, match="at least 1"):
        Retry(tries=0)


# --------------------------------------------------------------------------- the client over HTTP


@pytest.fixture()
def rossmann(kaggle_stub, tiny_twin):
    kaggle_stub.add(ROSSMANN, tiny_twin("rossmann"))
    return kaggle_stub


def test_list_files_through_the_client(rossmann):
    files = Kaggle().list_files(ROSSMANN)
    assert {f.name for f in files} == {"train.csv", "test.csv", "store.csv", "sample_submission.csv",
                                       "store_states.csv"}
    assert all(f.size > 0 for f in files)
    assert rossmann.auth_seen[-1].startswith("Basic ")


def test_api_token_signs_in(rossmann, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    assert len(Kaggle().list_files(ROSSMANN)) == 5
    assert rossmann.calls("IntrospectToken") >= 1 and rossmann.auth_seen[-1] == f"Bearer {TOKEN}"


def test_wrong_key_is_401_with_its_fix(rossmann, monkeypatch, capfd):
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key-000-secret")
    with pytest.raises(KitError, match=r"^Kaggle refused the API key from \$KAGGLE_USERNAME and \$KAGGLE_KEY "
                                       r"\(HTTP 401\): it is wrong, expired or revoked; create a new API token "
                                       r"at https://www\.kaggle\.com/settings/api") as err:
        Kaggle(retry=FAST).list_files(ROSSMANN)
    assert "wrong-key" not in str(err.value) and "wrong-key" not in "".join(capfd.readouterr())
    assert rossmann.calls("ListDataFiles") == 1  # a 401 is not retried


def test_wrong_token_is_refused_without_the_clients_exit(rossmann, monkeypatch, capfd):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_wrongwrongwrong")
    with pytest.raises(KitError, match=r"^Kaggle refused the API token from \$KAGGLE_API_TOKEN: it is wrong, "
                                       r"expired or revoked; create a new API token at .* and replace the old "
                                       r"one in \$KAGGLE_API_TOKEN$"):
        Kaggle().list_files(ROSSMANN)
    out = "".join(capfd.readouterr())
    assert "Authentication required" not in out and "wrongwrong" not in out  # kit speaks, not the client


def test_unknown_competition_is_404(rossmann):
    spec = dataclasses.replace(ROSSMANN, slug="no-such-competition")
    with pytest.raises(KitError, match=r"Kaggle has no competition 'no-such-competition' \(HTTP 404 while listing "
                                       r"the files of no-such-competition\)"):
        Kaggle(retry=FAST).list_files(spec)


def test_network_down_is_retried_then_clear(rossmann, monkeypatch, capfd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed}")
    with pytest.raises(KitError, match=r"^cannot reach Kaggle while listing the files of rossmann-store-sales "
                                       r"\(3 tries; .*\): check the internet connection and any proxy"):
        Kaggle(retry=FAST).list_files(ROSSMANN)
    assert capfd.readouterr().err.count("kit: cannot reach Kaggle") == 2


# --------------------------------------------------------------------------- submissions


@pytest.fixture()
def real_data(rossmann, tmp_path):
    """A downloaded (not generated) Rossmann folder and a valid constant submission for it."""
    folder = download(ROSSMANN, tmp_path / "data").folder
    ids = pl.read_csv(folder / "test.csv", columns=["Id"])["Id"]
    sub = tmp_path / "sub.csv"
    pl.DataFrame({"Id": ids, "Sales": [5000.0] * len(ids)}).write_csv(sub)
    rossmann.log.clear()
    return folder, sub


def test_submit_and_wait_for_the_public_score(rossmann, real_data, tiny_twin):
    folder, sub = real_data
    rossmann.pending_polls = 2
    result = kaggle_api.submit(ROSSMANN, sub, "constant 5000", folder=folder, wait=True, poll_interval=0.001)
    expected = score(ROSSMANN, sub, tiny_twin("rossmann"))  # the stub scores with the twin's answers
    assert result.scored.status == "complete" and result.rows == pl.read_csv(sub).height
    assert result.scored.public_score == pytest.approx(expected.public, abs=1e-5)
    assert result.scored.private_score == pytest.approx(expected.private, abs=1e-5)
    assert [m for m, _ in rossmann.log] == ["GetSubmissionLimits", "StartSubmissionUpload", "upload",
                                            "CreateSubmission", "ListSubmissions", "ListSubmissions",
                                            "ListSubmissions"]
    assert rossmann.uploads and list(rossmann.uploads.values())[0] == sub.read_bytes()
    listed = Kaggle().submissions(ROSSMANN)
    assert [(s.ref, s.description, s.status) for s in listed] == [(result.ref, "constant 5000", "complete")]


@pytest.mark.parametrize("body, message", [
    ("Id,Prediction\n1,0\n", r"the submission's header is Id,Prediction but rossmann expects Id,Sales"),
    (None, r"line 2: Sales is 'NaN' \(1 NaN or infinite rows\); every prediction must be a finite number"),
    (None, r"line 2: Sales -1\.0 is negative .* RMSPE needs predictions >= 0"),
])
def test_invalid_submission_sends_nothing(rossmann, real_data, body, message):
    folder, sub = real_data
    if body is None:
        frame = pl.read_csv(sub)
        bad = float("nan") if "NaN" in message else -1.0
        frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(bad).cast(pl.Float64))
                                   .otherwise(pl.col("Sales")).alias("Sales"))
        frame.write_csv(sub)
    else:
        sub.write_text(body)
    with pytest.raises(KitError, match=message):
        kaggle_api.submit(ROSSMANN, sub, "bad", folder=folder)
    assert rossmann.log == []


def test_twin_ids_are_not_kaggles(rossmann, tiny_twin, tmp_path):
    sub = tmp_path / "sub.csv"
    sub.write_text("Id,Sales\n1,0\n")
    with pytest.raises(KitError, match=r"holds a synthetic twin .* its test ids are not Kaggle's"):
        kaggle_api.submit(ROSSMANN, sub, "x", folder=tiny_twin("rossmann"))
    assert rossmann.log == []


def test_no_submissions_left(rossmann, real_data):
    folder, sub = real_data
    rossmann.allowed_now = 0
    with pytest.raises(KitError, match=r"no submissions left for rossmann-store-sales today .* nothing was sent"):
        kaggle_api.submit(ROSSMANN, sub, "x", folder=folder)
    assert rossmann.calls("StartSubmissionUpload") == 0


def test_scoring_error_and_timeout(rossmann, real_data):
    folder, sub = real_data
    rossmann.score_error = "Submission must have 41088 rows"
    with pytest.raises(KitError, match=r"Kaggle could not score submission \d+: Submission must have 41088 rows"):
        kaggle_api.submit(ROSSMANN, sub, "x", folder=folder, wait=True, poll_interval=0.001)
    rossmann.score_error = None
    rossmann.pending_polls = 10**6
    with pytest.raises(KitError, match=r"submission \d+ was still being scored after 0s; its score will appear at "
                                       r"https://www\.kaggle\.com/competitions/rossmann-store-sales/submissions"):
        kaggle_api.submit(ROSSMANN, sub, "x", folder=folder, wait=True, poll_interval=0.01, timeout=0.05)


def test_submit_is_not_retried(rossmann, real_data):
    folder, sub = real_data
    rossmann.fail("CreateSubmission", 500)
    with pytest.raises(KitError, match=r"Kaggle answered HTTP 500 while submitting sub.csv to rossmann-store-sales; "
                                       r"the submission may or may not have been recorded: check "
                                       r"https://www\.kaggle\.com/competitions/rossmann-store-sales/submissions"):
        kaggle_api.submit(ROSSMANN, sub, "x", folder=folder, kaggle=Kaggle(retry=FAST))
    assert rossmann.calls("CreateSubmission") == 1


def test_cli_submit_wait(rossmann, real_data, tiny_twin, capsys):
    from kit.cli import main

    folder, sub = real_data
    assert main(["submit", "rossmann", str(sub), "-m", "constant", "--wait", "--poll-interval", "0.001",
                 "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    public = score(ROSSMANN, sub, tiny_twin("rossmann")).public
    rows = pl.read_csv(sub).height
    assert re.fullmatch(rf"checked {sub}: {rows:,} rows, one per test id; submitted to rossmann-store-sales "
                        r"\(ref \d+\): 'constant'", out[0])
    assert out[1] == f"public score  {public:.5f}   (RMSPE, lower is better)"


def test_credentials_never_reach_output_or_files(rossmann, real_data, monkeypatch, capfd):
    folder, sub = real_data
    kaggle_api.submit(ROSSMANN, sub, "x", folder=folder, wait=True, poll_interval=0.001)
    rossmann.rules_accepted.clear()
    with pytest.raises(KitError) as err:
        download(ROSSMANN, folder.parent / "again")
    monkeypatch.setenv("KAGGLE_KEY", KEY + "x")
    with pytest.raises(KitError) as err401:
        Kaggle().list_files(ROSSMANN)
    import base64

    secrets = (KEY, base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode())
    shown = "".join(capfd.readouterr()) + str(err.value) + str(err401.value)
    written = b"".join(p.read_bytes() for p in folder.parent.rglob("*") if p.is_file() and p != sub)
    for secret in secrets:
        assert secret not in shown and secret.encode() not in written


# --------------------------------------------------------------------------- in a fresh process


def test_no_credentials_exit_2_without_importing_kaggle(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env["HOME"] = str(tmp_path)
    code = ("import sys; from kit.cli import main; rc = main(['download', 'rossmann', '--data-dir', "
            f"{str(tmp_path / 'd')!r}]); print('kaggle imported:', 'kaggle' in sys.modules); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 2, r.stderr
    assert r.stdout == "kaggle imported: False\n"
    assert r.stderr.startswith("kit download: error: no Kaggle credentials found") and r.stderr.count("\n") == 1
