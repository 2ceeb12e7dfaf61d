"""A Kaggle stand-in on loopback, so tests drive the official client over its real HTTP path.

The official `KaggleApi` talks to http://localhost when KAGGLE_API_ENVIRONMENT=LOCALHOST
(read when `kaggle` is imported). With http_proxy=http://127.0.0.1:PORT every request of
the client reaches this server as a proxy-style absolute URL, so any free port works and
nothing leaves the machine. The server answers the JSON POSTs the client makes to
/api/v1/competitions.CompetitionApiService/<Method> (and security.OAuthService/IntrospectToken
for API tokens), redirects downloads to files it serves with Range support, takes uploads,
and scores submissions with the twin's hidden answers.

Failures are scripted: `fail(method, *statuses)` answers the next calls with those HTTP
statuses, `cut(name, times)` cuts the next transfers of a file short, `rules_accepted`
lists the competitions whose rules the account accepted.

Fixtures (import them into a test module): `kaggle_stub` sets the environment for one
test (its own HOME and KAGGLE_CONFIG_DIR, the proxy, stub credentials) and returns the
running `Stub`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from kit.spec import CompetitionSpec

API = "/api/v1/competitions.CompetitionApiService/"
INTROSPECT = "/api/v1/security.OAuthService/IntrospectToken"
LAST_MODIFIED = "Wed, 30 Sep 2015 12:00:00 GMT"
USERNAME = "kit-tester"
KEY = "k3y-0123456789abcdef-secret"
TOKEN = "KGAT_0123456789abcdefstubtoken"
RULES_MESSAGE = "You must accept this competition's rules before you'll be able to download files."


# --------------------------------------------------------------------------- packaging


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            # archives inside the bundle are stored: compressing them again gains nothing
            packed = name.endswith((".7z", ".zip"))
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _seven_zip(entries: dict[str, bytes], *, store: bool = False) -> bytes:
    import py7zr

    buf = io.BytesIO()
    # LZMA2 like Kaggle's archives, at the fastest preset so that packaging takes no time;
    # tars of JPEGs are stored (JPEG does not compress)
    filters = [{"id": py7zr.FILTER_COPY}] if store else [{"id": py7zr.FILTER_LZMA2, "preset": 0}]
    with py7zr.SevenZipFile(buf, "w", filters=filters) as z:
        for name, data in entries.items():
            z.writestr(data, name)
    return buf.getvalue()


def _tar(folder: Path, arcname: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(folder, arcname=arcname)
    return buf.getvalue()


def package(spec: CompetitionSpec, folder: Path) -> dict[str, bytes]:
    """The competition's files as Kaggle lists them: plain, or in the archive the spec names.

    Favorita's CSVs become `train.csv.7z`..., Planet's image folders `train-jpg.tar.7z`,
    Bulldozers' Train.csv `Train.zip`; files shipped as they are (or only inside the
    bundle) stay plain.
    """
    bundle = f"{spec.slug}.zip"
    grouped: dict[str, dict[str, bytes]] = defaultdict(dict)
    plain: dict[str, bytes] = {}
    for f in spec.files:
        path = folder / f.name
        if not path.exists():
            continue
        if f.archive is None or f.archive == bundle:
            plain[f.name] = path.read_bytes()
        elif f.archive.endswith(".tar.7z"):
            grouped[f.archive][f"{f.name}.tar"] = _tar(path, f.name)
        else:
            grouped[f.archive][f.name] = path.read_bytes()
    for name, entries in grouped.items():
        plain[name] = (_seven_zip(entries, store=name.endswith(".tar.7z")) if name.endswith(".7z")
                       else _zip(entries))
    return plain


@dataclass
class Competition:
    spec: CompetitionSpec
    #: the twin folder (its solution scores submissions)
    folder: Path
    #: Kaggle name -> bytes
    files: dict[str, bytes]
    #: what DownloadDataFiles serves (default: a zip of `files`)
    bundle: bytes = b""
    submissions: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if not self.bundle:
            self.bundle = _zip(self.files)


# --------------------------------------------------------------------------- the server


class Stub:
    """The server and its script; `reset()` between tests."""

    def __init__(self):
        self.competitions: dict[str, Competition] = {}
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        self.username, self.key, self.token = USERNAME, KEY, TOKEN
        self.rules_accepted: set[str] = set(self.competitions)
        self.failures: dict[str, deque] = defaultdict(deque)
        self.cuts: Counter = Counter()
        self.log: list[tuple[str, str]] = []
        self.auth_seen: list[str] = []
        self.uploads: dict[str, bytes] = {}
        #: ListSubmissions calls that show a new submission as still pending
        self.pending_polls = 0
        #: what GetSubmissionLimits says is left today
        self.allowed_now = 5
        #: when set, Kaggle fails to score new submissions with this description
        self.score_error: str | None = None
        #: CSVs larger than this are served zipped when asked for one by one, as Kaggle does
        self.auto_zip_over = 50_000
        for comp in self.competitions.values():
            comp.submissions.clear()

    # ---- script

    def add(self, spec: CompetitionSpec, folder: Path, *, bundle: bytes = b"") -> Competition:
        """Serve the twin in `folder` as competition `spec.slug` (packaged once)."""
        comp = self.competitions.get(spec.slug)
        if comp is None or comp.folder != folder or bundle:
            comp = Competition(spec, Path(folder), package(spec, Path(folder)), bundle=bundle)
            self.competitions[spec.slug] = comp
        self.rules_accepted.add(spec.slug)
        return comp

    def fail(self, what: str, *statuses: int) -> None:
        """Answer the next calls of `what` (an API method, or `file:<name>`) with these statuses."""
        self.failures[what].extend(statuses)

    def cut(self, name: str, times: int = 1) -> None:
        """Send only half of the next `times` transfers of file `name`, then hang up."""
        self.cuts[name] += times

    def calls(self, what: str) -> int:
        return sum(1 for m, _ in self.log if m == what)

    # ---- lifecycle

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stub:
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


class _Handler(BaseHTTPRequestHandler):
    stub: Stub
    protocol_version = "HTTP/1.0"  # one request per connection: simple, and a cut is a hang-up

    def log_message(self, *args):  # quiet
        pass

    # ---- helpers

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/json", headers=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, _json({"code": status, "message": message}))

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _path(self) -> str:
        return unquote(urlsplit(self.path).path)

    def _scripted_failure(self, what: str) -> bool:
        queue = self.stub.failures.get(what)
        if queue:
            status = queue.popleft()
            self._error(status, f"scripted failure {status}")
            return True
        return False

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        self.stub.auth_seen.append(header)
        stub = self.stub
        basic = "Basic " + base64.b64encode(f"{stub.username}:{stub.key}".encode()).decode()
        return header in (basic, f"Bearer {stub.token}")

    # ---- verbs

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self._path()
        if not path.startswith("/files/"):
            return self._error(404, "no such page")
        _, _, slug, name = path.split("/", 3)
        self.stub.log.append(("file", name))
        if self._scripted_failure(f"file:{name}"):
            return
        comp = self.stub.competitions.get(slug)
        data = None
        if comp is not None:
            if name == f"{slug}.zip":
                data = comp.bundle
            elif name in comp.files:
                data = comp.files[name]
            elif name.endswith(".zip") and name[:-4] in comp.files:
                data = _zip({name[:-4]: comp.files[name[:-4]]})
        if data is None:
            return self._error(404, "no such file")
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and self.headers.get("If-Range", etag) == etag:
            self.stub.log.append(("range", f"{name} {rng}"))
            start = int(rng[len("bytes="):].split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", LAST_MODIFIED)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.stub.cuts[name] > 0:
            self.stub.cuts[name] -= 1
            self.stub.log.append(("cut", name))
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def do_PUT(self):  # noqa: N802
        path = self._path()
        body = self._body()
        if not path.startswith("/upload/"):
            return self._error(404, "no such upload")
        token = path.rsplit("/", 1)[1]
        self.stub.log.append(("upload", token))
        self.stub.uploads[token] = body
        self._send(200, b"{}")

    def do_POST(self):  # noqa: N802
        path = self._path()
        request = json.loads(self._body() or b"{}")
        if path == INTROSPECT:
            self.stub.log.append(("IntrospectToken", ""))
            ok = request.get("token") == self.stub.token
            return self._send(200, _json({"active": True, "username": self.stub.username} if ok else {}))
        if not path.startswith(API):
            return self._error(404, "no such method")
        method = path[len(API):]
        self.stub.log.append((method, json.dumps(request, sort_keys=True)))
        if not self._authorized():
            return self._error(401, "Unauthenticated")
        if self._scripted_failure(method):
            return
        slug = request.get("competitionName", "")
        comp = self.stub.competitions.get(slug)
        if comp is None:
            return self._error(404, f"Competition '{slug}' not found")
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(404, f"method {method} not stubbed")
        handler(comp, request)

    # ---- API methods

    def _rules(self, comp: Competition) -> bool:
        if comp.spec.slug in self.stub.rules_accepted:
            return True
        self._error(403, RULES_MESSAGE)
        return False

    def _redirect(self, slug: str, name: str) -> None:
        self._send(302, b"", headers=[("Location", f"http://localhost/files/{slug}/{quote(name)}")])

    def _api_ListDataFiles(self, comp, request):  # noqa: N802
        names = sorted(comp.files)
        size = int(request.get("pageSize") or 20)
        start = int(request.get("pageToken") or 0)
        page = names[start:start + size]
        nxt = str(start + size) if start + size < len(names) else ""
        files = [{"ref": n, "name": n, "totalBytes": len(comp.files[n]), "creationDate": "2015-09-30T12:00:00Z",
                  "url": f"https://www.kaggle.com/competitions/{comp.spec.slug}/data?select={quote(n)}"}
                 for n in page]
        self._send(200, _json({"files": files, "nextPageToken": nxt}))

    def _api_DownloadDataFiles(self, comp, request):  # noqa: N802
        if self._rules(comp):
            self._redirect(comp.spec.slug, f"{comp.spec.slug}.zip")

    def _api_DownloadDataFile(self, comp, request):  # noqa: N802
        if not self._rules(comp):
            return
        name = request.get("fileName", "")
        if name not in comp.files:
            return self._error(404, f"File '{name}' not found")
        big = name.endswith(".csv") and len(comp.files[name]) > self.stub.auto_zip_over
        self._redirect(comp.spec.slug, name + ".zip" if big else name)

    def _api_GetSubmissionLimits(self, comp, request):  # noqa: N802
        today = len(comp.submissions)
        self._send(200, _json({"numToday": today, "numTotal": today, "numAllowedNow": self.stub.allowed_now}))

    def _api_StartSubmissionUpload(self, comp, request):  # noqa: N802
        if not self._rules(comp):
            return
        token = f"blob-{len(self.stub.uploads) + len(self.stub.log)}"
        self._send(200, _json({"token": token, "createUrl": f"http://localhost/upload/{token}"}))

    def _api_CreateSubmission(self, comp, request):  # noqa: N802
        if not self._rules(comp):
            return
        token = request.get("blobFileTokens", "")
        data = self.stub.uploads.get(token)
        if data is None:
            return self._error(400, "unknown upload token")
        ref = 1000 + sum(len(c.submissions) for c in self.stub.competitions.values()) + 1
        entry = {"ref": ref, "totalBytes": len(data), "date": "2015-10-01T12:00:00.000Z",
                 "description": request.get("submissionDescription", ""), "fileName": "submission.csv",
                 "submittedBy": self.stub.username, "status": "COMPLETE", "_polls": self.stub.pending_polls}
        entry.update({"status": "ERROR", "errorDescription": self.stub.score_error} if self.stub.score_error
                     else _score(comp, data))
        comp.submissions.insert(0, entry)
        self._send(200, _json({"message": f"Successfully submitted to {comp.spec.title}", "ref": ref}))

    def _api_ListSubmissions(self, comp, request):  # noqa: N802
        shown = []
        for entry in comp.submissions:
            visible = {k: v for k, v in entry.items() if not k.startswith("_")}
            if entry["_polls"] > 0:
                entry["_polls"] -= 1
                visible.update(status="PENDING", publicScore="", privateScore="")
            shown.append(visible)
        self._send(200, _json({"submissions": shown, "nextPageToken": ""}))


def _score(comp: Competition, data: bytes) -> dict:
    """Kaggle's scoring, done with the twin's hidden answers."""
    from kit.errors import KitError
    from kit.submission import score

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.csv"
        path.write_bytes(data)
        try:
            s = score(comp.spec, path, comp.folder)
        except KitError as err:
            return {"status": "ERROR", "errorDescription": str(err)}
    return {"publicScore": f"{s.public:.5f}", "privateScore": f"{s.private:.5f}"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kaggle_home(tmp_path_factory) -> Path:
    """One HOME for the client in the whole session: `kaggle` reads its config folder once, at import."""
    home = tmp_path_factory.getbasetemp() / "kaggle-home"
    (home / "config").mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="module")
def stub_server():
    stub = Stub().start()
    yield stub
    stub.stop()


@pytest.fixture
def kaggle_stub(stub_server, kaggle_home, monkeypatch) -> Stub:
    """The running stub, with the environment pointing the official client at it (API key auth)."""
    stub_server.reset()
    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    for f in ("access_token", "access_token.txt", "kaggle.json", "credentials.json"):
        (kaggle_home / ".kaggle" / f).unlink(missing_ok=True)
    (kaggle_home / "config" / "kaggle.json").unlink(missing_ok=True)
    monkeypatch.setenv("HOME", str(kaggle_home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(kaggle_home / "config"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("http_proxy", stub_server.proxy)
    monkeypatch.setenv("HTTP_PROXY", stub_server.proxy)
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KIT_PROGRESS", "0")
    extended = sys.modules.get("kaggle.api.kaggle_api_extended")
    if extended is not None:
        api = extended.KaggleApi
        if "--local" not in api.args or Path(api.config_dir) != kaggle_home / "config":
            pytest.fail("the kaggle client was imported before the stub environment was set "
                        f"(args={api.args}, config_dir={api.config_dir}); import it only through kit")
    return stub_server
