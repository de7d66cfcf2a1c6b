"""Start the web app once for the UI tests: `python app.py` in a subprocess on a free port.

The app gets its own checkpoints folder holding two tiny models trained here for a few
steps (a conditional GAN and a VAE with a 2-D latent space), plus a classifier folder
and junk or broken folders that the model pickers must skip, so the tests never depend on the
shipped checkpoints. Its Hugging Face Hub is a stand-in server (tests/fake_hub.py), so the Hub
tab is tested without the internet. The server is shared by every UI test module of one pytest run and
stopped when the run ends.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fake_hub import FakeHub

REPO = Path(__file__).resolve().parents[1]
TINY_MODELS = {
    "tiny-gan": {"family": "gan", "arch": "mlp", "options": {"conditional": True}, "steps": 20},
    "tiny-vae": {"family": "vae", "arch": "mlp", "options": {"latent_dim": 2}, "steps": 60},
    # A model that draws in steps (the Sample tab's steps side by side, the lesson's diffusion step).
    "tiny-diffusion": {"family": "diffusion", "arch": "unet",
                       "options": {"conditional": True, "channels": 8, "sampling_steps": 4}, "steps": 10},
}
STARTUP_SECONDS = 90
HUB_TOKENS = {"hf_teacher_token": "teacher"}

_server = None


class AppServer:
    def __init__(self, url, process, folder, log_path, hub):
        self.url, self.process, self.folder, self.log_path, self.hub = url, process, folder, log_path, hub

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.hub.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def make_checkpoints(folder, mnist_dir):
    """Train the tiny models for a few steps and save them the way the shipped ones are saved."""
    from genai.checkpoints import save_model
    from genai.data import load_dataset
    from genai.models import create_model
    from genai.train import TrainSettings, train

    dataset = load_dataset("mnist", data_dir=mnist_dir, limit=5000)
    for name, spec in TINY_MODELS.items():
        model = create_model(spec["family"], spec["arch"], seed=0, **spec["options"])
        settings = TrainSettings(batch_size=64, max_steps=spec["steps"], preview_images=0)
        for _ in train(model, dataset, settings):
            pass
        save_model(model.eval(), folder / name, dataset="mnist", steps=spec["steps"])
    # Folders the pickers must skip: the metrics classifier and something that is not a model.
    (folder / "classifier").mkdir()
    shutil.copy(folder / "tiny-vae" / "config.json", folder / "classifier" / "config.json")
    shutil.copy(folder / "tiny-vae" / "model.safetensors", folder / "classifier" / "model.safetensors")
    (folder / "notes").mkdir()
    (folder / "notes" / "README.md").write_text("not a model\n")
    plant_bad_checkpoints(folder)


def plant_bad_checkpoints(folder):
    """Folders that look like checkpoints but must be skipped, with the app serving the rest:
    a config asking for a huge model beside real weights, broken JSON, and a pickle for weights."""
    import json
    import pickle

    huge = json.loads((folder / "tiny-gan" / "config.json").read_text())
    huge["config"]["num_classes"] = 10**8
    (folder / "bad-huge").mkdir()
    (folder / "bad-huge" / "config.json").write_text(json.dumps(huge))
    shutil.copy(folder / "tiny-gan" / "model.safetensors", folder / "bad-huge" / "model.safetensors")
    (folder / "bad-json").mkdir()
    (folder / "bad-json" / "config.json").write_text('{"family": "gan", ')
    shutil.copy(folder / "tiny-gan" / "model.safetensors", folder / "bad-json" / "model.safetensors")
    (folder / "bad-pickle").mkdir()
    shutil.copy(folder / "tiny-vae" / "config.json", folder / "bad-pickle" / "config.json")
    (folder / "bad-pickle" / "model.safetensors").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))


_visitors = 0


def visitor_headers():
    """Headers that make a client a visitor of its own on the test server: a fresh address in X-Forwarded-For."""
    global _visitors
    _visitors += 1
    return {"X-Forwarded-For": f"10.{_visitors // 65536 % 256}.{_visitors // 256 % 256}.{_visitors % 256}"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, process, log_path):
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"python app.py exited with code {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"python app.py did not answer on {url} within {STARTUP_SECONDS} s:\n{log_path.read_text()}")


def start(mnist_dir):
    """The running app (started on first call), as an AppServer with .url."""
    global _server
    if _server is not None:
        return _server
    folder = Path(tempfile.mkdtemp(prefix="genai-ui-test-"))
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    make_checkpoints(checkpoints, mnist_dir)
    hub = FakeHub(tokens=HUB_TOKENS).start()  # the app's "Hugging Face Hub": tests/fake_hub.py, on loopback
    port = free_port()
    env = {
        **os.environ,
        "GENAI_CHECKPOINTS_DIR": str(checkpoints),
        "GENAI_DATA_DIR": str(mnist_dir),
        "GENAI_CACHE_DIR": str(folder / "cache"),
        "GENAI_MAX_TRAIN_SECONDS": "30",
        "GENAI_TRAIN_CONCURRENCY": "2",
        # Limits count per visitor (a client address): the tests name each client's address in X-Forwarded-For,
        # as a Space's proxy does (visitor_headers below), so one machine plays a whole class.
        "GENAI_TRUSTED_PROXY": "1",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        **hub.client_env(),
        "HF_HUB_CACHE": str(folder / "hub-cache"),
        "HF_TOKEN_PATH": str(folder / "no-saved-token"),
        "HF_HUB_OFFLINE": "0",
        "TMPDIR": str(folder),
    }
    env.pop("HF_TOKEN", None)
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    server = AppServer(url, process, folder, log_path, hub)
    try:
        wait_until_up(url, process, log_path)
    except BaseException:
        server.stop()
        raise
    _server = server
    atexit.register(server.stop)
    return server
