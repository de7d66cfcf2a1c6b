"""Tests for genai.hub and genai.space against a stand-in Hub (tests/fake_hub.py), no internet:
push then pull gives the same samples, a cached model loads offline, only the three files are
fetched, untrusted repos are refused before their weights are downloaded, and every failure
is one clear message that never shows the token.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
from safetensors.torch import save_file

from fake_hub import FakeHub
from genai.checkpoints import CheckpointError, load_model, save_model
from genai.hub import HubError, load, locate, parse_model_id, push
from genai.models import create_model
from genai.sampling import sample

REPO = Path(__file__).resolve().parents[1]
TOKENS = {"hf_good": "alice", "hf_bob": "bob"}
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # huggingface_hub's own


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running stand-in Hub that genai's calls reach (HF_ENDPOINT), with an empty cache and no saved token."""
    with FakeHub(tokens=TOKENS) as running:
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        yield running


@pytest.fixture
def checkpoint(tmp_path):
    model = create_model("vae", "mlp", seed=3, latent_dim=8, conditional=True)
    return save_model(model.eval(), tmp_path / "my-vae", dataset="mnist", steps=0)


def env_for(hub, tmp_path, **extra):
    """The environment of a fresh shell that uses the stand-in Hub."""
    env = {**os.environ, **hub.client_env(), "HF_HUB_CACHE": str(tmp_path / "hub-cache"),
           "HF_TOKEN_PATH": str(tmp_path / "no-token"), **extra}
    env.pop("HF_TOKEN", None) if "HF_TOKEN" not in extra else None
    return env


def genai_cli(*args, env):
    done = subprocess.run([sys.executable, "-m", "genai", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("text, parsed", [
    ("alice/mnist-vae", ("alice/mnist-vae", None)),
    ("alice/mnist-vae@main", ("alice/mnist-vae", "main")),
    ("alice/m.v_2@" + "a" * 40, ("alice/m.v_2", "a" * 40)),
    ("runs/my-gan", ("runs/my-gan", None)),
    ("/tmp/x", None), ("alice", None), ("a/b/c", None), ("../etc", None), ("alice/..", None), ("alice/x@", None),
])
def test_model_ids_are_recognised(text, parsed):
    assert parse_model_id(text) == parsed


def test_push_then_pull_gives_the_same_samples_and_a_proper_model_card(hub, checkpoint):
    url = push(checkpoint, "alice/my-vae", token="hf_good")
    assert "alice/my-vae" in url
    files = hub.repo_files("alice/my-vae")
    assert {"config.json", "model.safetensors", "README.md", "samples.png"} <= set(files)
    assert files["model.safetensors"] == (checkpoint / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    front = card.split("---")[1]
    for line in ("license: cc-by-sa-3.0", "library_name: genai", "- ylecun/mnist",
                 "pipeline_tag: unconditional-image-generation", "- vae", "- conditional"):
        assert line in front
    assert "--checkpoint alice/my-vae" in card and "![64 samples, seed 0](samples.png)" in card
    assert "Not measured yet" in card and "hf_good" not in card
    assert 'load("alice/my-vae")' in card  # the card's own Python snippet takes the Hub id

    pulled, metadata = load("alice/my-vae")
    local, _ = load_model(checkpoint)
    assert metadata["config"] == local.config.to_dict()
    assert np.array_equal(sample(pulled, 7, 16, labels=3), sample(local, 7, 16, labels=3))


def test_a_downloaded_model_loads_offline_from_the_cache(hub, checkpoint, monkeypatch):
    push(checkpoint, "alice/my-vae", token="hf_good")
    online = sample(load("alice/my-vae")[0], 1, 8, labels=1)
    asked = len(hub.requests)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    offline = sample(load("alice/my-vae")[0], 1, 8, labels=1)
    assert np.array_equal(online, offline) and len(hub.requests) == asked  # not one request
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    hub.go_offline()  # the network is gone: the cached files still serve
    assert np.array_equal(sample(load("alice/my-vae")[0], 1, 8, labels=1), online)


def test_only_the_three_files_are_fetched_and_a_revision_pins_them(hub, checkpoint):
    push(checkpoint, "alice/my-vae", token="hf_good")
    first = hub.commits("alice/my-vae")[0].oid
    hub.plant("alice/my-vae", {"model.pt": b"\x80\x04not loaded", "extra.bin": b"x" * 100, "code.py": b"import os"})
    load("alice/my-vae")
    assert {name for _, name in hub.downloads} == {"config.json", "model.safetensors", "README.md"}
    folder = locate(f"alice/my-vae@{first}")
    assert folder.name == first and sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                                                   "model.safetensors"]


def planted(hub, repo, checkpoint, config_change=None, weights=None, files=None):
    """A repo holding checkpoint's files, with config.json changed / weights replaced / files added."""
    config = json.loads((checkpoint / "config.json").read_text())
    config["config"].update(config_change or {})
    content = {"config.json": json.dumps(config).encode(),
               "model.safetensors": weights if weights is not None else (checkpoint / "model.safetensors").read_bytes()}
    hub.plant(repo, {**content, **(files or {})})


def test_checkpoints_load_folders_only_and_never_ask_the_hub(hub, checkpoint):
    push(checkpoint, "alice/my-vae", token="hf_good")
    asked = len(hub.requests)
    with pytest.raises(CheckpointError, match="No checkpoint folder at alice/my-vae"):
        load_model("alice/my-vae")  # the Hub id is resolved first, by genai.hub.load
    assert len(hub.requests) == asked


@pytest.mark.parametrize("where, message", [
    ("alice/nothing-here", "There is no model alice/nothing-here on the Hugging Face Hub"),
    ("alice/my-vae@no-such-branch", "has no revision 'no-such-branch'"),
])
def test_missing_repos_and_revisions_are_one_clear_message(hub, checkpoint, where, message):
    planted(hub, "alice/my-vae", checkpoint)
    with pytest.raises(HubError, match=message):
        load(where)


def test_a_repo_that_is_not_a_genai_model_is_named_as_such(hub):
    hub.plant("alice/some-llm", {"pytorch_model.bin": b"\x80\x02", "README.md": b"# an LLM"})
    with pytest.raises(HubError, match="has no config.json: it is not a genai model"):
        load("alice/some-llm")


def test_a_private_repo_needs_its_owners_token(hub, checkpoint):
    push(checkpoint, "alice/secret", token="hf_good", private=True)
    with pytest.raises(HubError, match="or it is private and no valid token"):
        load("alice/secret")
    assert load("alice/secret", token="hf_good")[0].family == "vae"


def test_a_huge_config_is_refused_before_its_weights_are_downloaded(hub, checkpoint):
    planted(hub, "alice/huge", checkpoint, config_change={"num_classes": 10**8})
    with pytest.raises(CheckpointError, match="num_classes must be a whole number"):
        load("alice/huge")
    assert [name for _, name in hub.downloads] == ["config.json"]


def test_weights_larger_than_their_config_describes_are_not_downloaded(hub, checkpoint):
    planted(hub, "alice/padded", checkpoint, weights=b"\0" * 8_000_000)
    with pytest.raises(HubError, match="more than the model its config.json describes can hold"):
        load("alice/padded")
    assert "model.safetensors" not in [name for _, name in hub.downloads]


def test_weights_that_do_not_match_the_config_are_refused(hub, checkpoint):
    other = create_model("vae", "mlp", latent_dim=4, conditional=True).state_dict()
    path = checkpoint.parent / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.items()}, path)
    planted(hub, "alice/mismatch", checkpoint, weights=path.read_bytes())
    with pytest.raises(CheckpointError, match="do not match the model in config.json"):
        load("alice/mismatch")


def test_no_network_and_nothing_cached_is_one_clear_message(hub, monkeypatch):
    import huggingface_hub.utils._http as client_http

    monkeypatch.setattr(client_http.time, "sleep", lambda seconds: None)  # the client's backoff: 23 s of waiting
    hub.go_offline()
    with pytest.raises(HubError, match="cannot be reached|Cannot reach the Hugging Face Hub"):
        load("alice/never-downloaded")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="not in the local Hub cache and HF_HUB_OFFLINE is set"):
        load("alice/never-downloaded")


def test_an_id_missing_from_the_cache_fails_within_2_seconds_when_the_hub_cannot_be_reached(hub, checkpoint):
    """Offline, the client's own retries waited 23 s before saying so; a class waits for nobody."""
    push(checkpoint, "alice/cached-vae", token="hf_good")
    load("alice/cached-vae")  # now in the cache
    hub.go_offline()
    start = time.monotonic()
    with pytest.raises(HubError, match="alice/never-downloaded is not in the local Hub cache and the Hub cannot be "
                                       "reached"):
        load("alice/never-downloaded")
    assert time.monotonic() - start < 2
    start = time.monotonic()
    assert load("alice/cached-vae")[1]["family"] == "vae"  # what is cached still loads, as fast
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("repo, token, message", [
    ("alice/x", "hf_wrong_secret", "refused the token \\(401"),
    ("bob/x", "hf_good", "may not write to bob/x \\(403"),
    ("alice/x", None, "refused the token \\(401|401"),
])
def test_push_errors_are_one_message_without_the_token(hub, checkpoint, repo, token, message):
    with pytest.raises(HubError, match=message) as error:
        push(checkpoint, repo, token=token)
    assert "hf_wrong_secret" not in str(error.value) and "hf_good" not in str(error.value)
    assert not any(method == "POST" and "/commit/" in path for method, path in hub.requests)


def test_the_cli_pushes_and_samples_offline_exactly_as_from_the_folder(hub, checkpoint, tmp_path):
    """The issue's "done when": push, then `sample --checkpoint user/name` offline = the local folder's samples."""
    online_env = env_for(hub, tmp_path, HF_TOKEN="hf_good")
    code, out, err = genai_cli("push", "--checkpoint", checkpoint, "--repo", "alice/cli-vae", "--no-eval", env=online_env)
    assert code == 0, err
    assert "Pushed" in out and "hf_good" not in out + err
    local_png, hub_png, offline_png = tmp_path / "local.png", tmp_path / "hub.png", tmp_path / "offline.png"
    for where, out_file, env in ((checkpoint, local_png, online_env), ("alice/cli-vae", hub_png, online_env),
                                 ("alice/cli-vae", offline_png, env_for(hub, tmp_path, HF_HUB_OFFLINE="1"))):
        code, _, err = genai_cli("sample", "--checkpoint", where, "--seed", 5, "--n", 16, "--out", out_file, env=env)
        assert code == 0, err
    assert local_png.read_bytes() == hub_png.read_bytes() == offline_png.read_bytes()


def test_the_cli_push_takes_figures_from_eval_json_for_this_model_only(hub, checkpoint, tmp_path):
    from genai.metrics import json_ready

    model, _ = load_model(checkpoint)
    figures = {"model": model.describe(), "fid": 12.5, "fid_real_floor": 4.0, "inception_score": 8.0,
               "inception_score_real": 9.8, "recognizable_share": 0.9, "recognizable_share_real": 0.98,
               "class_counts": [200] * 10, "n_samples": 2000, "seed": 0,
               "dataset": "the MNIST test split (10,000 images)", "family": "vae", "arch": "mlp", "conditional": True}
    good = tmp_path / "figures.json"
    good.write_text(json.dumps(json_ready(figures)))
    wrong = tmp_path / "other.json"
    wrong.write_text(json.dumps({**figures, "model": "DCGAN, latent 100, 0.39M parameters"}))
    env = env_for(hub, tmp_path, HF_TOKEN="hf_good")
    code, _, err = genai_cli("push", "--checkpoint", checkpoint, "--repo", "alice/v", "--eval", wrong, env=env)
    assert code == 2 and "describes 'DCGAN" in err
    assert not any("/api/repos/create" in path for _, path in hub.requests)  # refused before touching the Hub
    code, _, err = genai_cli("push", "--checkpoint", checkpoint, "--repo", "alice/v", "--eval", good, env=env)
    assert code == 0, err
    card = hub.repo_files("alice/v")["README.md"].decode()
    assert "12.50" in card and "Measured against the MNIST test split" in card


@pytest.mark.parametrize("args, message", [
    (["push", "--checkpoint", "{tmp}/none", "--repo", "alice/x"], "no such folder"),
    (["push", "--checkpoint", "{ckpt}", "--repo", "not a repo"], "is not a Hub repo id"),
    (["push", "--checkpoint", "{ckpt}", "--repo", "alice/x@main"], "is not a Hub repo id"),
    (["sample", "--checkpoint", "alice/absent", "--out", "{tmp}/x.png"], "no folder alice/absent here, and as a Hub"),
    (["eval", "--checkpoint", "alice/absent", "--card"], "--card writes the README.md of a local checkpoint"),
    (["deploy-space", "--repo", "alice"], "is not a Space id"),
])
def test_bad_hub_commands_end_with_one_line_and_exit_2(hub, checkpoint, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, ckpt=checkpoint) for a in args]
    code, out, err = genai_cli(*args, env=env_for(hub, tmp_path, HF_TOKEN="hf_good"))
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_deploy_space_uploads_the_app_with_lfs_attributes(hub, tmp_path):
    code, out, err = genai_cli("deploy-space", "--repo", "alice/genai-class", env=env_for(hub, tmp_path, HF_TOKEN="hf_good"))
    assert code == 0, err
    files = hub.repo_files("alice/genai-class", repo_type="space")
    assert {"app.py", "requirements.txt", "README.md", ".gitattributes", "genai/ui/blocks.py"} <= set(files)
    assert "checkpoints/vae-2d/model.safetensors" in files and "checkpoints/classifier/model.safetensors" in files
    assert not any(name.startswith(("tests/", "benchmarks/", ".ci/")) or "__pycache__" in name for name in files)
    assert "*.safetensors filter=lfs" in files[".gitattributes"].decode()
    assert "sdk: gradio" in files["README.md"].decode().split("---")[1]
    assert huggingface_hub.HfApi(endpoint=hub.url, token="hf_good").space_info("alice/genai-class").sdk == "gradio"


def test_on_gpu_uses_the_spaces_decorator_only_when_it_is_installed(monkeypatch):
    import types

    from genai.ui.gpu import on_gpu

    def handler():
        return 1

    assert on_gpu(handler) is handler  # no `spaces` package here
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda function=None, duration=None: (calls.append(duration), (lambda f: f) if function is None else function)[1]
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert on_gpu(handler) is handler and on_gpu(handler, seconds=660) is handler and calls == [None, 660]
