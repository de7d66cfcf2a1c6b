"""Sharing models through the Hugging Face Hub: load one by its id, push one you trained.

    folder = locate("alice/mnist-vae@main")   # a local folder as is, or a Hub model's files in the cache
    model, metadata = load("alice/mnist-vae")                # locate, then checkpoints.load_model
    push("runs/my-vae", "alice/mnist-vae", results=figures)  # creates the repo, uploads files + card

A model on the Hub is a repository holding exactly what a local checkpoint folder holds:
config.json and model.safetensors (plus a README.md model card and a sample grid). Files come
through huggingface_hub into its standard cache (~/.cache/huggingface/hub, or $HF_HUB_CACHE),
so a model downloaded once loads offline too (HF_HUB_OFFLINE=1), and gives exactly the same
samples as the same files in a local folder. Only config.json, model.safetensors and
README.md are ever fetched, and nothing fetched is trusted: the config is checked field by
field and the weights' size against it before they are downloaded (checkpoints.py).
The Hub sits above checkpoints.py, which reads folders only: a Hub id is turned into a folder
here, before anything is loaded.

The token comes from the `token` argument, else HF_TOKEN, else a saved `hf auth login`;
genai never writes it to disk, never logs it, and never puts it in a message.
"""

import math
import os
import re
import shutil
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from .checkpoints import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, expected_shapes, load_model, read_metadata
from .model_card import model_card
from .sampling import sample, save_images

CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
HEADER_ALLOWANCE = 1_000_000  # bytes a safetensors file may hold beyond its numbers (its JSON header)
REACH_SECONDS = 1.5  # how long a connection to the Hub may take to open before we call it unreachable

# "user/name" or "user/name@revision" (a branch, tag or commit). Names as the Hub allows them.
MODEL_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(?:@(?P<revision>[\w./-]{1,200}))?$")


def hub_endpoint():
    """The Hub's address: $HF_ENDPOINT read now (huggingface_hub reads it once, at import), else its default."""
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or constants.ENDPOINT


class HubError(CheckpointError):
    """A model that cannot be fetched from or pushed to the Hub, explained for a human."""


def parse_model_id(text):
    """("user/name", revision or None) for a Hub model id, or None when text is not one."""
    match = MODEL_ID.match(str(text).strip())
    if match is None or ".." in match["repo"] or (match["revision"] and ".." in match["revision"]):
        return None
    return match["repo"], match["revision"]


def locate(where, token=None):
    """The folder holding a checkpoint's files: `where` itself when it is a local path that exists,
    else the files of the Hub model `where` names ("user/name[@revision]"), fetched into the cache."""
    path = Path(where)
    if path.exists() or parse_model_id(where) is None:
        return path
    repo_id, revision = parse_model_id(where)
    try:
        return download(repo_id, revision, token=token)
    except HubError as error:
        raise HubError(f"There is no folder {where} here, and as a Hub model id: {error}") from None


def load(where, device="cpu", token=None):
    """(model, metadata) of a checkpoint folder or a Hub model id: locate() it, then checkpoints.load_model."""
    return load_model(locate(where, token=token), device)


def download(repo_id, revision=None, token=None):
    """Fetch config.json, then (after checking it) model.safetensors and README.md; return their folder.

    The three files come from one commit: the one config.json was found at.
    """
    from huggingface_hub import constants, hf_hub_download

    # Unreachable, the client retries for over 20 s before giving up: asked first, in a moment, the cache
    # answers at once (a model fetched before loads; one never fetched is said to be missing).
    cache_only = constants.HF_HUB_OFFLINE or not hub_reachable()

    def fetch(filename, at):
        with explained(repo_id, revision, filename):
            return Path(hf_hub_download(repo_id, filename, revision=at, token=token, library_name="genai",
                                        endpoint=hub_endpoint(), local_files_only=cache_only))

    config_path = fetch(CONFIG_FILE, revision)
    folder = config_path.parent  # .../snapshots/<commit>/
    commit = folder.name
    metadata = read_metadata(folder)
    expected = expected_shapes(metadata, folder)  # every field checked, the model's size capped
    largest = 4 * sum(math.prod(shape) for shape in expected.values()) + HEADER_ALLOWANCE  # float32, as genai saves
    if not (folder / WEIGHTS_FILE).is_file() and not cache_only:
        check_remote_size(repo_id, commit, token, largest)
    fetch(WEIGHTS_FILE, commit)
    try:
        fetch(CARD_FILE, commit)
    except HubError:
        pass  # a model card is welcome, not required
    return folder


def hub_reachable(timeout=REACH_SECONDS):
    """Whether a connection to the Hub (or to the proxy that leads there) opens within timeout seconds.

    Asked in a thread of its own, so that a name lookup that hangs cannot hold the caller longer."""
    endpoint = urlsplit(hub_endpoint())
    proxy = urllib.request.getproxies().get(endpoint.scheme)
    target = urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}") if proxy else endpoint
    port = target.port or (443 if target.scheme == "https" else 80)
    opened = []

    def connect():
        try:
            with socket.create_connection((target.hostname, port), timeout=timeout):
                opened.append(True)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened)


def check_remote_size(repo_id, revision, token, largest):
    """Refuse to download weights larger than the model their config describes."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

    if constants.HF_HUB_OFFLINE:
        return  # hf_hub_download then reads the cache or says the file is not there
    with explained(repo_id, revision, WEIGHTS_FILE):
        url = hf_hub_url(repo_id, WEIGHTS_FILE, revision=revision, endpoint=hub_endpoint())
        size = get_hf_file_metadata(url, token=token, endpoint=hub_endpoint()).size
    if size is not None and size > largest:
        raise HubError(
            f"{repo_id}'s {WEIGHTS_FILE} is {size:,} bytes, more than the model its config.json describes "
            f"can hold ({largest:,}); it was not downloaded."
        )


class explained:
    """A context manager turning huggingface_hub's errors into one clear HubError (never a token)."""

    def __init__(self, repo_id, revision=None, filename=None, writing=False):
        self.repo_id, self.revision, self.filename, self.writing = repo_id, revision, filename, writing

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, HubError) or not isinstance(error, Exception):
            return False
        raise HubError(hub_message(error, self.repo_id, self.revision, self.filename, self.writing)) from None


def hub_message(error, repo_id, revision=None, filename=None, writing=False):
    """What went wrong talking to the Hub, in a sentence that says what to do."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        return (f"{repo_id}{at} is not in the local Hub cache and {why}: connect once to download it "
                "(afterwards it loads offline).")
    if isinstance(error, RevisionNotFoundError):
        return f"{repo_id} has no revision {revision!r} on the Hugging Face Hub: give a branch, tag or commit it has."
    if isinstance(error, RepositoryNotFoundError):
        return (f"There is no model {repo_id} on the Hugging Face Hub (or it is private and no valid token "
                "was given): check the id, or set HF_TOKEN.")
    if isinstance(error, EntryNotFoundError):
        return (f"{repo_id}{at} has no {filename}: it is not a genai model "
                f"(a genai model holds {CONFIG_FILE} and {WEIGHTS_FILE}).")
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            return "The Hugging Face Hub refused the token (401 Unauthorized): check HF_TOKEN or log in again."
        if status == 403:
            action = f"write to {repo_id}" if writing else f"read {repo_id}"
            return f"This token may not {action} (403 Forbidden): use a token with write access to that namespace."
        return f"The Hugging Face Hub answered {status or 'an error'} for {repo_id}; try again later."
    if isinstance(error, (OSError, ConnectionError)) or type(error).__module__.startswith(("httpx", "httpcore")):
        return f"Cannot reach the Hugging Face Hub ({hub_endpoint()}): check the network, then try again."
    return f"Talking to the Hugging Face Hub about {repo_id} failed ({type(error).__name__})."


def push(checkpoint, repo_id, results=None, token=None, private=False, eval_command=""):
    """Create the Hub repo repo_id if needed and upload the checkpoint with a model card and a sample grid.

    results: the figures from metrics.evaluate (or `eval --json`), shown in the card; None says
    they were not measured. Returns the URL of the commit.
    """
    from huggingface_hub import HfApi

    if parse_model_id(repo_id) is None or "@" in repo_id:
        raise HubError(f"{repo_id!r} is not a Hub repo id: give it as user/name (letters, digits, '-', '_', '.').")
    checkpoint = Path(checkpoint)
    model, metadata = load_model(checkpoint)  # only a model that loads is pushed
    staging = Path(tempfile.mkdtemp(prefix="genai-push-"))
    try:
        shutil.copyfile(checkpoint / CONFIG_FILE, staging / CONFIG_FILE)
        shutil.copyfile(checkpoint / WEIGHTS_FILE, staging / WEIGHTS_FILE)
        save_images(sample(model, seed=0, n=64), staging / SAMPLES_FILE)
        card = model_card(repo_id.split("/")[1], metadata, results, eval_command, location=repo_id, image=SAMPLES_FILE)
        (staging / CARD_FILE).write_text(card)
        api = HfApi(endpoint=hub_endpoint(), token=token, library_name="genai")
        with explained(repo_id, writing=True):
            api.create_repo(repo_id, private=private, exist_ok=True)
            commit = api.upload_folder(folder_path=staging, repo_id=repo_id,
                                       commit_message=f"Upload {model.describe()} with genai")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return commit.commit_url
