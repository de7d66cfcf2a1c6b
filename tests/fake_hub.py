"""A small stand-in for the Hugging Face Hub, for tests (stdlib only).

It serves, over HTTP on 127.0.0.1, just the endpoints that the real `huggingface_hub`
client (2.4) calls for: create_repo, upload_file / upload_folder / create_commit (regular
files and Git LFS files), hf_hub_download / snapshot_download, model_info / repo_info /
space_info, list_repo_files / list_repo_tree, file_exists / repo_exists and whoami.
Everything is kept in memory; each commit stores a full snapshot of the repo's files.

    with FakeHub(tokens={"hf_good": "alice"}) as hub:
        api = HfApi(endpoint=hub.url, token="hf_good")
        api.create_repo("alice/gan", exist_ok=True)
        api.upload_folder(repo_id="alice/gan", folder_path=folder)
        path = hf_hub_download("alice/gan", "config.json", endpoint=hub.url, cache_dir=tmp)
        assert hub.repo_files("alice/gan")["config.json"] == Path(path).read_bytes()

Things to know when pointing the client at it:

* Pass `endpoint=hub.url` explicitly (HfApi(endpoint=...), hf_hub_download(endpoint=...)).
  The client reads HF_ENDPOINT once, at import, into `huggingface_hub.constants`; the
  module-level helpers (`huggingface_hub.upload_folder`, ...) use an `HfApi()` made at
  import, so neither setting the env var nor patching `constants.ENDPOINT` later reaches
  them. A subprocess can use the env vars from `hub.client_env()`.
* Xet: if `hf_xet` is installed (it is here), the client uploads every LFS file with the
  Xet protocol; it decides that on its own side (`HF_HUB_DISABLE_XET`), and no server
  answer makes it fall back. So while the hub runs it sets
  `huggingface_hub.constants.HF_HUB_DISABLE_XET = True` (put back by `stop()`), and the
  client then uses plain Git LFS (batch API + PUT + verify). Downloads never use Xet
  here: that only happens when a response carries an `X-Xet-Hash` header.
* Offline: `huggingface_hub.constants.HF_HUB_OFFLINE` is also read at import. Either
  monkeypatch it (`monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)`,
  it is read at each request), or run a subprocess with `HF_HUB_OFFLINE=1` in its env.
  `hub.go_offline()` closes the server socket instead (a real "no network").
* Tokens: the client sends the locally saved token (HF_TOKEN, ~/.cache/huggingface/token)
  when none is given; pass `token=...` or `token=False` to be explicit.
* A new repo holds one commit with a `.gitattributes` file, like on the real Hub.
"""

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# Which files go to Git LFS (the real Hub decides this from .gitattributes and the size).
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".png", ".jpg", ".jpeg", ".gif")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()

TYPE_FROM_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API = r"/api/(?P<plural>models|datasets|spaces)/" + _REPO
_WEB = r"/(?:(?P<prefix>datasets|spaces)/)?" + _REPO


def is_lfs(path: str, size: int) -> bool:
    return path.lower().endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pointer(self) -> bytes:
        """What git itself stores for an LFS file: a small text pointer to the content."""
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @property
    def git_oid(self) -> str:
        return git_blob_sha1(self.pointer if self.lfs else self.data)


@dataclass
class Commit:
    oid: str
    title: str
    parent: str | None
    files: dict[str, StoredFile]  # the full snapshot of the repo after this commit
    date: str


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool = False
    sdk: str | None = None
    commits: dict[str, Commit] = field(default_factory=dict)  # oid -> commit
    branches: dict[str, str] = field(default_factory=dict)  # branch name -> commit oid

    @property
    def owner(self) -> str:
        return self.repo_id.split("/")[0]


class HubError(Exception):
    """An HTTP error answer, shaped like the real Hub's (X-Error-Code/-Message + JSON body)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.extra = headers or {}, extra or {}  # extra: more fields for the JSON body


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeHub:
    """In-memory Hub served on 127.0.0.1 from a background thread.

    `tokens` maps each valid token to its user name; a user may write only under its own
    namespace. Test helpers: `plant`, `repo_files`, `commits`, `requests`, `downloads`,
    `go_offline` / `go_online`, `client_env`.
    """

    def __init__(self, tokens: dict[str, str] | None = None, disable_client_xet: bool = True):
        self.tokens = dict(tokens or {})
        self.disable_client_xet = disable_client_xet
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.downloads: list[tuple[str, str]] = []  # (repo_id, filename) of every file GET
        self._repos: dict[tuple[str, str], Repo] = {}  # (repo_type, repo_id) -> repo
        self._lfs_objects: dict[str, bytes] = {}  # sha256 -> content, filled by the LFS PUTs
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0
        self._saved_xet_setting = None
        self._routes = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", _API + r"(?:/revision/(?P<rev>[^/]+))?", self._repo_info),
            ("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", self._tree),
            ("POST", _API + r"/preupload/(?P<rev>[^/]+)", self._preupload),
            ("POST", _API + r"/commit/(?P<rev>[^/]+)", self._commit),
            ("GET", _API + r"/xet-(read|write)-token(/.*)?", self._xet_token),
            ("POST", _WEB + r"\.git/info/lfs/objects/batch", self._lfs_batch),
            ("POST", _WEB + r"\.git/info/lfs/objects/verify", self._lfs_verify),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_put),
            ("GET HEAD", _WEB + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve),
        ]

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> "FakeHub":
        self._serve()
        if self.disable_client_xet:
            try:
                from huggingface_hub import constants
            except ImportError:
                pass
            else:
                self._saved_xet_setting = constants.HF_HUB_DISABLE_XET
                constants.HF_HUB_DISABLE_XET = True
        return self

    def stop(self) -> None:
        self._shutdown()
        if self._saved_xet_setting is not None:
            from huggingface_hub import constants

            constants.HF_HUB_DISABLE_XET = self._saved_xet_setting
            self._saved_xet_setting = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def go_offline(self) -> None:
        """Close the socket: every request now fails to connect (httpx ConnectError)."""
        self._shutdown()

    def go_online(self) -> None:
        """Serve again, on the same port, with the same repos."""
        self._serve()

    def client_env(self) -> dict[str, str]:
        """Env vars for a subprocess whose huggingface_hub should talk to this hub."""
        return {"HF_ENDPOINT": self.url, "HF_HUB_DISABLE_XET": "1"}

    def _serve(self) -> None:
        if self._server is not None:
            return
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ test helpers

    def plant(self, repo_id: str, files: dict[str, bytes | str], repo_type: str = "model",
              private: bool = False, message: str = "Planted by a test") -> str:
        """Commit `files` straight into a repo (made if missing) on `main`; returns the commit id."""
        with self._lock:
            repo = self._repos.get((repo_type, repo_id)) or self._new_repo(repo_type, repo_id, private)
            snapshot = dict(repo.commits[repo.branches["main"]].files)
            for path, data in files.items():
                data = data.encode() if isinstance(data, str) else data
                snapshot[path] = StoredFile(data, lfs=is_lfs(path, len(data)))
            return self._add_commit(repo, "main", snapshot, message).oid

    def repo_files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The files of a repo at a branch or commit id: {path: content}."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return {path: f.data for path, f in self._resolve_revision(repo, revision).files.items()}

    def commits(self, repo_id: str, repo_type: str = "model") -> list[Commit]:
        """All commits of a repo, newest first (like HfApi.list_repo_commits)."""
        with self._lock:
            return list(reversed(self._repos[(repo_type, repo_id)].commits.values()))

    # ------------------------------------------------------------------ plumbing

    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict, bytes]:
        """Route one request; returns (status, headers, body)."""
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            self.requests.append((method, unquote(split.path)))
            try:
                for methods, pattern, endpoint in self._routes:
                    match = re.fullmatch(pattern, split.path)
                    if method in methods.split() and match:
                        args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                        return endpoint(method=method, headers=headers, body=body, query=query, **args)
                raise HubError(404, f"FakeHub has no route for {method} {split.path}")
            except HubError as e:
                error_headers = {"X-Error-Message": e.message, **e.headers}
                if e.code:
                    error_headers["X-Error-Code"] = e.code
                return _json(e.status, {"error": e.message, **e.extra}, error_headers)
            except Exception as e:  # a request FakeHub did not expect: say so (a 5xx would make the client retry)
                return _json(400, {"error": f"FakeHub failed on {method} {split.path}: {e!r}"})

    def _user(self, headers) -> str | None:
        """The user a request's `Authorization: Bearer <token>` belongs to (None if no token)."""
        auth = headers.get("Authorization")
        if not auth:
            return None
        token = auth.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def _writer(self, headers, namespace: str) -> str:
        """The user of a write request, who must own `namespace` (401 / 403 otherwise)."""
        user = self._user(headers)
        if user is None:
            raise HubError(401, "Invalid username or password.")
        if user != namespace:
            raise HubError(403, f"You don't have the rights to write under the namespace '{namespace}'")
        return user

    def _repo(self, headers, repo_type: str, repo_id: str, write: bool = False) -> Repo:
        """Look a repo up; a private repo is hidden (not found) from everyone but its owner."""
        user = self._writer(headers, repo_id.split("/")[0]) if write else self._user(headers)
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and user != repo.owner):
            # The real Hub answers 401 to anonymous requests and 404 otherwise; same error code.
            raise HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    @staticmethod
    def _resolve_revision(repo: Repo, revision: str) -> Commit:
        """A branch name or a commit id -> the commit."""
        oid = repo.branches.get(revision, revision)
        if oid not in repo.commits:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo.commits[oid]

    def _new_repo(self, repo_type: str, repo_id: str, private: bool, sdk: str | None = None) -> Repo:
        repo = Repo(repo_id, repo_type, private, sdk)
        self._repos[(repo_type, repo_id)] = repo
        self._add_commit(repo, "main", {".gitattributes": StoredFile(GITATTRIBUTES, lfs=False)}, "initial commit")
        return repo

    def _add_commit(self, repo: Repo, branch: str, files: dict[str, StoredFile], title: str) -> Commit:
        parent = repo.branches.get(branch)
        seed = f"{repo.repo_id}|{parent}|{title}|{len(repo.commits)}|{datetime.now().timestamp()}"
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), title, parent, files, _now())
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    def _repo_url(self, repo: Repo) -> str:
        return f"{self.url}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    # ------------------------------------------------------------------ endpoints

    def _whoami(self, headers, **_):
        """GET /api/whoami-v2: who the token belongs to (HfApi.whoami)."""
        user = self._user(headers)
        if user is None:
            raise HubError(401, "Invalid username or password.")
        return _json(200, {"type": "user", "id": user, "name": user, "fullname": user, "orgs": [],
                           "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": "write"}}})

    def _create_repo(self, headers, body, **_):
        """POST /api/repos/create: make an empty repo (HfApi.create_repo); 409 if it exists."""
        payload = json.loads(body)
        namespace = payload.get("organization") or self._user(headers) or ""
        self._writer(headers, namespace)
        repo_type = payload.get("type") or "model"
        if repo_type == "space" and not payload.get("sdk"):
            raise HubError(400, "Invalid sdk: a space needs one (gradio, streamlit, docker, static)")
        repo_id = f"{namespace}/{payload['name']}"
        repo = self._repos.get((repo_type, repo_id))
        if repo is not None:
            # create_repo(exist_ok=True) reads the url from this 409 answer
            raise HubError(409, f"You already created this {repo_type} repo", extra={"url": self._repo_url(repo)})
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = self._new_repo(repo_type, repo_id, private, payload.get("sdk"))
        return _json(200, {"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def _validate_yaml(self, **_):
        """POST /api/validate-yaml: checks README.md metadata before uploads; all is fine here."""
        return _json(200, {"errors": [], "warnings": []})

    def _repo_info(self, headers, plural, repo, query, rev="main", **_):
        """GET /api/{models,datasets,spaces}/{repo_id}[/revision/{rev}]: model_info / repo_info."""
        r = self._repo(headers, TYPE_FROM_PLURAL[plural], repo)
        commit = self._resolve_revision(r, rev)
        blobs = query.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for path, f in sorted(commit.files.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(size=len(f.data), blobId=f.git_oid)
                if f.lfs:
                    sibling["lfs"] = {"size": len(f.data), "sha256": f.sha256, "pointerSize": len(f.pointer)}
            siblings.append(sibling)
        first = next(iter(r.commits.values()))
        info = {"_id": repo, "id": repo, "author": r.owner, "sha": commit.oid, "private": r.private,
                "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                "createdAt": first.date, "lastModified": commit.date, "siblings": siblings}
        if r.repo_type == "model":
            info["modelId"] = repo
        if r.repo_type == "space":
            info["sdk"] = r.sdk
        return _json(200, info)

    def _tree(self, headers, plural, repo, rev, query, path="", **_):
        """GET /api/{type}s/{repo_id}/tree/{rev}[/{path}]: list_repo_tree / list_repo_files."""
        commit = self._resolve_revision(self._repo(headers, TYPE_FROM_PLURAL[plural], repo), rev)
        recursive = query.get("recursive", "").lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries, folders = [], set()
        for file_path, f in sorted(commit.files.items()):
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix):].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entry = {"type": "file", "path": file_path, "size": len(f.data), "oid": f.git_oid}
                if f.lfs:
                    entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": len(f.pointer)}
                entries.append(entry)
        if prefix and not entries and not folders:
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound")
        for d in sorted(folders):
            entries.append({"type": "directory", "path": d, "oid": git_blob_sha1(d.encode()), "size": 0})
        return _json(200, entries)

    def _preupload(self, headers, body, plural, repo, rev, **_):
        """POST /api/{type}s/{repo_id}/preupload/{rev}: tells per file "regular" or "lfs" upload.

        `oid` is the id of the file already there (git sha1, or sha256 for LFS), so that the
        client can skip files that did not change.
        """
        commit = self._resolve_revision(self._repo(headers, TYPE_FROM_PLURAL[plural], repo, write=True), rev)
        answer = []
        for f in json.loads(body)["files"]:
            lfs = is_lfs(f["path"], f["size"])
            existing = commit.files.get(f["path"])
            oid = None if existing is None else (existing.sha256 if existing.lfs else existing.git_oid)
            mode = "lfs" if lfs else "regular"
            answer.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return _json(200, {"files": answer, "commitOid": commit.oid})

    def _commit(self, headers, body, plural, repo, rev, query, **_):
        """POST /api/{type}s/{repo_id}/commit/{branch}: one commit from an NDJSON list of operations.

        Lines: a "header" (summary, description), then "file" (base64 content), "lfsFile"
        (sha256 of content already PUT through the LFS API), "deletedFile", "deletedFolder".
        """
        r = self._repo(headers, TYPE_FROM_PLURAL[plural], repo, write=True)
        if query.get("create_pr"):
            raise HubError(400, "FakeHub does not do pull requests")
        if rev not in r.branches:
            raise HubError(404, f"Invalid rev id: {rev} (commits go to a branch)", "RevisionNotFound")
        files = dict(r.commits[r.branches[rev]].files)
        title = "Upload files"
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title = value.get("summary") or title
            elif key == "file":
                data = base64.b64decode(value["content"])
                files[value["path"]] = StoredFile(data, lfs=False)
            elif key == "lfsFile":
                if value["oid"] not in self._lfs_objects:
                    raise HubError(400, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                files[value["path"]] = StoredFile(self._lfs_objects[value["oid"]], lfs=True)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: f for p, f in files.items() if not p.startswith(folder)}
            else:
                raise HubError(400, f"FakeHub does not know the commit operation {key!r}")
        commit = self._add_commit(r, rev, files, title)
        return _json(200, {"success": True, "commitOid": commit.oid, "pullRequestUrl": None,
                           "commitUrl": f"{self._repo_url(r)}/commit/{commit.oid}"})

    def _xet_token(self, **_):
        """GET /api/{type}s/{repo_id}/xet-{read,write}-token/...: Xet storage is not offered."""
        raise HubError(501, "FakeHub has no Xet storage: set HF_HUB_DISABLE_XET=1 in the client")

    def _lfs_batch(self, headers, body, repo, prefix=None, **_):
        """POST /{repo}.git/info/lfs/objects/batch: where to PUT each LFS object (Git LFS batch API).

        Objects already stored get no "actions" (the client skips them). "transfer" is
        "basic": no multipart, no Xet.
        """
        r = self._repo(headers, TYPE_FROM_PLURAL.get(prefix or "models"), repo, write=True)
        objects = []
        for obj in json.loads(body)["objects"]:
            answer = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self._lfs_objects:
                answer["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"},
                    "verify": {"href": f"{self._repo_url(r)}.git/info/lfs/objects/verify"},
                }
            objects.append(answer)
        return _json(200, {"transfer": "basic", "objects": objects}, content_type="application/vnd.git-lfs+json")

    def _lfs_put(self, body, oid, **_):
        """PUT /lfs-upload/{sha256}: the storage upload (an S3 pre-signed URL on the real Hub)."""
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "Uploaded content does not match its sha256")
        self._lfs_objects[oid] = body
        return 200, {}, b""

    def _lfs_verify(self, headers, body, repo, prefix=None, **_):
        """POST /{repo}.git/info/lfs/objects/verify: confirms an LFS object arrived whole."""
        self._repo(headers, TYPE_FROM_PLURAL.get(prefix or "models"), repo, write=True)
        obj = json.loads(body)
        data = self._lfs_objects.get(obj["oid"])
        if data is None or len(data) != obj["size"]:
            raise HubError(404, f"LFS object {obj['oid']} not found")
        return _json(200, {"success": True})

    def _resolve(self, method, headers, repo, rev, path, prefix=None, **_):
        """HEAD/GET /[{datasets,spaces}/]{repo_id}/resolve/{rev}/{path}: a file's bytes.

        The client needs X-Repo-Commit (the commit id, the cache's snapshot folder) and an
        ETag (the cache's blob name): the git sha1 for regular files, the sha256 for LFS
        files, which also get X-Linked-Etag / X-Linked-Size as on the real Hub.
        """
        r = self._repo(headers, TYPE_FROM_PLURAL.get(prefix or "models"), repo)
        commit = self._resolve_revision(r, rev)
        f = commit.files.get(path)
        if f is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        if method == "GET":
            self.downloads.append((repo, path))
        out = {"X-Repo-Commit": commit.oid, "Content-Type": "application/octet-stream"}
        if f.lfs:
            out.update({"ETag": f'"{f.sha256}"', "X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.data))})
        else:
            out["ETag"] = f'"{f.git_oid}"'
        return 200, out, f.data


def _json(status: int, data, headers: dict | None = None, content_type: str = "application/json"):
    return status, {"Content-Type": content_type, **(headers or {})}, json.dumps(data).encode()


class _Handler(BaseHTTPRequestHandler):
    """Reads one HTTP request, hands it to `FakeHub.handle`, writes the answer."""

    hub: FakeHub

    def _answer(self) -> None:
        # The client always sends a Content-Length (no chunked bodies), even for LFS uploads.
        request_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, body = self.hub.handle(self.command, self.path, self.headers, request_body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass
