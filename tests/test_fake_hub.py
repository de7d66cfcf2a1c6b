"""The real huggingface_hub client against tests/fake_hub.py, end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from PIL import Image
from safetensors.torch import load_file, save_file

from fake_hub import FakeHub, is_lfs

TOKENS = {"hf_good": "alice", "hf_bob": "bob"}

# huggingface_hub 2.4 itself PUTs LFS files with httpx's deprecated `data=`.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def hub():
    with FakeHub(tokens=TOKENS) as running:
        yield running


@pytest.fixture
def api(hub) -> HfApi:
    return HfApi(endpoint=hub.url, token="hf_good")


def make_model_folder(folder: Path) -> Path:
    """config.json + a real safetensors file + a PNG + README.md, like a saved checkpoint."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": "dcgan", "latent_dim": 8}))
    save_file({"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)}, folder / "model.safetensors")
    Image.new("L", (8, 8), color=128).save(folder / "samples.png")
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# A tiny GAN\n")
    return folder


def download(hub, filename, cache, **kwargs) -> Path:
    kwargs.setdefault("token", "hf_good")
    return Path(hf_hub_download("alice/gan", filename, endpoint=hub.url, cache_dir=cache, **kwargs))


def test_upload_folder_then_download_each_file(hub, api, tmp_path):
    folder = make_model_folder(tmp_path / "ckpt")
    api.create_repo("alice/gan", exist_ok=True)
    info = api.upload_folder(repo_id="alice/gan", folder_path=folder, commit_message="Add checkpoint")

    names = ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert sorted(api.list_repo_files("alice/gan")) == [".gitattributes", *names]
    assert hub.commits("alice/gan")[0].oid == info.oid
    assert hub.commits("alice/gan")[0].title == "Add checkpoint"
    # Binary files went through Git LFS (a PUT each), text files inline in the commit.
    puts = [path for method, path in hub.requests if method == "PUT"]
    assert len(puts) == 2
    lfs = {s.rfilename: s.lfs is not None for s in api.model_info("alice/gan", files_metadata=True).siblings}
    assert lfs == {".gitattributes": False, "README.md": False, "config.json": False,
                   "model.safetensors": True, "samples.png": True}

    cache = tmp_path / "cache"
    for name in names:
        assert download(hub, name, cache).read_bytes() == (folder / name).read_bytes()
    assert hub.repo_files("alice/gan")["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    assert load_file(download(hub, "model.safetensors", cache))["w"].shape == (3, 4)
    assert download(hub, "config.json", tmp_path / "cache2", revision=info.oid).read_bytes() == (
        folder / "config.json"
    ).read_bytes()


def test_history_by_commit_sha(hub, api, tmp_path):
    api.create_repo("alice/gan")
    first = api.upload_file(path_or_fileobj=b'{"epoch": 1}', path_in_repo="config.json", repo_id="alice/gan")
    api.upload_file(path_or_fileobj=b'{"epoch": 2}', path_in_repo="config.json", repo_id="alice/gan")

    assert [c.title for c in hub.commits("alice/gan")][-1] == "initial commit"
    assert len(hub.commits("alice/gan")) == 3
    assert download(hub, "config.json", tmp_path / "a").read_bytes() == b'{"epoch": 2}'
    assert download(hub, "config.json", tmp_path / "b", revision=first.oid).read_bytes() == b'{"epoch": 1}'
    assert hub.repo_files("alice/gan", revision=first.oid)["config.json"] == b'{"epoch": 1}'
    assert api.model_info("alice/gan", revision=first.oid).sha == first.oid


def test_create_commit_with_binary_and_text_files(hub, api):
    api.create_repo("alice/gan")
    gif = b"GIF89a" + bytes(range(256))
    ops = [
        huggingface_hub.CommitOperationAdd("anim/train.gif", gif),
        huggingface_hub.CommitOperationAdd("notes.txt", b"hello"),
    ]
    api.create_commit("alice/gan", operations=ops, commit_message="two files")
    assert hub.repo_files("alice/gan")["anim/train.gif"] == gif
    api.create_commit("alice/gan", operations=[huggingface_hub.CommitOperationDelete("notes.txt")],
                      commit_message="delete")
    assert "notes.txt" not in hub.repo_files("alice/gan")
    assert is_lfs("big.dat", 10 * 1024 * 1024) and not is_lfs("notes.txt", 5)


def test_offline_by_patching_constants(hub, api, tmp_path, monkeypatch):
    api.create_repo("alice/gan")
    hub.plant("alice/gan", {"config.json": b"{}"})
    cache = tmp_path / "cache"
    online = download(hub, "config.json", cache)

    # HF_HUB_OFFLINE is read into `constants` at import: patch the constant, not the env var.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    seen = len(hub.requests)
    assert download(hub, "config.json", cache) == online
    assert len(hub.requests) == seen  # the hub was not asked
    with pytest.raises(huggingface_hub.errors.LocalEntryNotFoundError):
        download(hub, "missing.json", cache)


def test_offline_in_a_subprocess_with_env_vars(hub, tmp_path):
    hub.plant("alice/gan", {"config.json": b'{"a": 1}'})
    cache = tmp_path / "cache"
    online = download(hub, "config.json", cache)
    hub.go_offline()  # and the hub is unreachable too
    code = ("from huggingface_hub import hf_hub_download; "
            f"print(hf_hub_download('alice/gan', 'config.json', cache_dir={str(cache)!r}))")
    env = {**os.environ, **hub.client_env(), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == online


def test_unreachable_hub_falls_back_to_cache(hub, tmp_path):
    hub.plant("alice/gan", {"config.json": b"{}"})
    cache = tmp_path / "cache"
    online = download(hub, "config.json", cache)
    hub.go_offline()
    assert download(hub, "config.json", cache) == online
    hub.go_online()
    assert download(hub, "config.json", cache) == online
    assert hub.downloads == [("alice/gan", "config.json")]  # the second time came from the cache


def test_only_the_needed_files_are_downloaded(hub, tmp_path):
    hub.plant("alice/gan", {"config.json": "{}", "model.safetensors": b"\0" * 64, "README.md": "# hi",
                            "samples/epoch_1.png": b"\x89PNG", "optimizer.pt": b"\0" * 64})
    for name in ["config.json", "model.safetensors", "README.md"]:
        download(hub, name, tmp_path)
    assert sorted(f for _, f in hub.downloads) == ["README.md", "config.json", "model.safetensors"]


def test_snapshot_download(hub, tmp_path):
    hub.plant("alice/gan", {"config.json": "{}", "model.safetensors": b"\0" * 64, "samples/a.png": b"\x89PNG"})
    folder = huggingface_hub.snapshot_download("alice/gan", allow_patterns=["*.json", "*.safetensors"],
                                               endpoint=hub.url, cache_dir=tmp_path, token="hf_good")
    assert sorted(p.name for p in Path(folder).iterdir()) == ["config.json", "model.safetensors"]
    assert (Path(folder) / "model.safetensors").read_bytes() == b"\0" * 64


def test_bad_or_missing_token_is_refused(hub, tmp_path):
    bad = HfApi(endpoint=hub.url, token="hf_wrong")
    with pytest.raises(HfHubHTTPError) as err:
        bad.create_repo("alice/gan")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        bad.whoami()
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=hub.url, token=False).create_repo("alice/gan")
    assert err.value.response.status_code == 401

    HfApi(endpoint=hub.url, token="hf_good").create_repo("alice/gan")
    with pytest.raises(HfHubHTTPError) as err:
        bad.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/gan")
    assert err.value.response.status_code == 401
    assert HfApi(endpoint=hub.url, token="hf_good").whoami()["name"] == "alice"


def test_writing_under_another_namespace_is_forbidden(hub, api):
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("bob/gan")
    assert err.value.response.status_code == 403
    hub.plant("bob/gan", {"config.json": "{}"})
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="bob/gan")
    assert err.value.response.status_code == 403


def test_missing_repo_file_and_revision(hub, api, tmp_path):
    with pytest.raises(RepositoryNotFoundError):
        download(hub, "config.json", tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/gan")
    assert not api.repo_exists("alice/gan")

    api.create_repo("alice/gan")
    assert api.repo_exists("alice/gan")
    with pytest.raises(RemoteEntryNotFoundError):
        download(hub, "config.json", tmp_path)
    assert not api.file_exists("alice/gan", "config.json")
    with pytest.raises(RevisionNotFoundError):
        download(hub, ".gitattributes", tmp_path, revision="dev")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/gan", revision="0" * 40)


def test_private_repo_is_hidden_from_others(hub, api, tmp_path):
    api.create_repo("alice/secret", private=True)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/secret")
    assert api.model_info("alice/secret").private
    for token in (False, "hf_bob"):
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download("alice/secret", "config.json", endpoint=hub.url, cache_dir=tmp_path, token=token)
        with pytest.raises(RepositoryNotFoundError):
            HfApi(endpoint=hub.url, token=token).model_info("alice/secret")


def test_space_repo(hub, api, tmp_path):
    with pytest.raises(ValueError):  # the client insists on an sdk for spaces
        api.create_repo("alice/demo", repo_type="space")
    url = api.create_repo("alice/demo", repo_type="space", space_sdk="gradio", exist_ok=True)
    assert url == f"{hub.url}/spaces/alice/demo"
    assert api.create_repo("alice/demo", repo_type="space", space_sdk="gradio", exist_ok=True) == url

    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text("import gradio\n")
    (folder / "requirements.txt").write_text("gradio\n")
    Image.new("L", (4, 4)).save(folder / "train.gif")
    api.upload_folder(repo_id="alice/demo", repo_type="space", folder_path=folder)

    assert api.space_info("alice/demo").sdk == "gradio"
    assert set(hub.repo_files("alice/demo", repo_type="space")) == {".gitattributes", "app.py",
                                                                   "requirements.txt", "train.gif"}
    path = hf_hub_download("alice/demo", "train.gif", repo_type="space", endpoint=hub.url,
                           cache_dir=tmp_path / "cache", token="hf_good")
    assert Path(path).read_bytes() == (folder / "train.gif").read_bytes()


def test_client_xet_is_switched_off_only_while_running():
    before = huggingface_hub.constants.HF_HUB_DISABLE_XET
    with FakeHub():
        assert huggingface_hub.constants.HF_HUB_DISABLE_XET is True
    assert huggingface_hub.constants.HF_HUB_DISABLE_XET == before
