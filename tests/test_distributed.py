"""Training over several processes: torchrun on the CPU (gloo), as on several GPUs (NCCL).

Two processes, each a shard of every global batch with gradients averaged, must learn what one
process learns from the same global batches; a process that dies must end the run with an
error, not a hang; only rank 0 writes the checkpoint, which records the number of processes.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra):
    """This environment with 1 CPU thread per process, without a launcher's variables unless given in extra."""
    env = {name: value for name, value in os.environ.items() if name not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return {**env, "GENAI_CPU_THREADS": "1", "PYTHONPATH": str(REPO), **extra}


def train_arguments(mnist_dir, out, *more):
    # The autoregressive model draws no training noise, so the result depends only on the batches.
    return ["-m", "genai", "train", "--model", "autoregressive", "--no-conditional", "--layers", "2", "--channels", "8",
            "--data-dir", str(mnist_dir), "--limit", "256", "--max-steps", "6", "--batch-size", "16",
            "--device", "cpu", "--out", str(out), *more]


def test_two_processes_learn_what_one_process_learns_from_the_same_global_batches(mnist_dir, tmp_path):
    one = subprocess.run([sys.executable, *train_arguments(mnist_dir, tmp_path / "one")], env=environment(),
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(free_port()), *train_arguments(mnist_dir, tmp_path / "two")],
                         env=environment(), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "x 2 processes (gloo)" in two.stdout and two.stdout.count("Saved the checkpoint") == 1  # rank 0 only
    single, double = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert single.keys() == double.keys()
    for name in single:  # the same updates, up to the order of floating-point sums
        assert (single[name] - double[name]).abs().max() < 1e-5, name
    record = json.loads((tmp_path / "two" / "config.json").read_text())["training"]
    assert record["world_size"] == 2 and record["steps"] == 6 and record["batch_size"] == 16


def test_a_batch_that_does_not_split_over_the_processes_is_refused(mnist_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(free_port()),
                           *train_arguments(mnist_dir, tmp_path / "odd")[:-4], "--batch-size", "15",
                           "--device", "cpu", "--out", str(tmp_path / "odd")],
                          env=environment(), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode != 0
    assert "must split evenly over the 2 processes: choose a multiple of 2" in done.stderr
    assert not (tmp_path / "odd").exists()


def test_a_process_that_dies_ends_the_run_with_an_error_instead_of_a_hang(mnist_dir, tmp_path):
    """Started by hand (as on two machines, without torchrun's agent to clean up): rank 1 is killed
    mid-run; rank 0 must stop with a one-line error soon, and write nothing."""
    port = str(free_port())
    arguments = [sys.executable, "-m", "genai", "train", "--model", "vae", "--data-dir", str(mnist_dir),
                 "--limit", "2000", "--time-limit", "120", "--device", "cpu", "--out", str(tmp_path / "run")]
    base = environment(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE="2", GENAI_DISTRIBUTED_TIMEOUT="30",
                       PYTHONUNBUFFERED="1")
    ranks = [subprocess.Popen(arguments, env={**base, "RANK": str(rank)}, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    out_lines, err_lines = [], []
    readers = [threading.Thread(target=lambda s=stream, lines=lines: lines.extend(s), daemon=True)
               for stream, lines in ((ranks[0].stdout, out_lines), (ranks[0].stderr, err_lines))]
    for reader in readers:
        reader.start()
    try:
        # Wait until rank 0 says it trains as one of two (on a busy machine that can take long), then kill rank 1.
        deadline = time.monotonic() + 180
        while not any("processes (gloo)" in line for line in out_lines) and ranks[0].poll() is None:
            assert time.monotonic() < deadline, "rank 0 never started training"
            time.sleep(0.2)
        time.sleep(2)  # a few steps into the run
        assert ranks[0].poll() is None and ranks[1].poll() is None
        ranks[1].send_signal(signal.SIGKILL)
        ranks[0].wait(timeout=90)
        for reader in readers:
            reader.join(timeout=10)
        out, err = "".join(out_lines), "".join(err_lines)
    finally:
        for process in ranks:
            if process.poll() is None:
                process.kill()
    assert ranks[0].returncode not in (0, None)
    assert "x 2 processes (gloo)" in out  # it was one of two
    assert "Another training process of this run stopped" in err and "nothing was saved" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()
