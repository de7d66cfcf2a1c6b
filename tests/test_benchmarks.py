"""The benchmark script works: each part runs in a tiny configuration and reports what it should.

No assertion here is about seconds (a test suite is no place for timing); the numbers
themselves come from `python -m benchmarks.run`, see docs/benchmarks.md.
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from benchmarks import load_test
from benchmarks import run as bench
from benchmarks.cpu_contention import run_contention
from benchmarks.sampling_latency import run_sampling_latency
from benchmarks.time_to_quality import default_runs, digits_drawn, plot, time_to_quality
from benchmarks.training_speed import ALL_MODELS, PIPELINES, ModelSpec, engine_run, measure_model, reference_run
from genai.checkpoints import read_metadata
from genai.data import load_dataset
from genai.recipes import RECIPES

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_mnist(mnist_dir):
    """The first 256 real MNIST images: enough for a few batches."""
    return load_dataset("mnist", data_dir=mnist_dir, limit=256)


@pytest.mark.parametrize("spec, repeats", [(ModelSpec("vae", "mlp"), 2), (ModelSpec("gan", "dcgan", True), 1)],
                         ids=["vae-mlp", "gan-dcgan-conditional"])
def test_training_speed_measures_every_pipeline(small_mnist, spec, repeats):
    result = measure_model(spec, small_mnist, "cpu", repeats=repeats, steps=2, warmup_steps=1, batch_size=8)
    assert result["model"] == spec.name and result["steps_per_run"] == 2 and result["batch_size"] == 8
    for pipeline in PIPELINES:
        runs = result["runs_images_per_sec"][pipeline]
        assert len(runs) == repeats and all(math.isfinite(x) and x > 0 for x in runs)
        assert result["memory"][pipeline]["rss_peak_mb"] > 0
        assert result["memory"][pipeline]["cuda_peak_allocated_mb"] is None  # on the CPU
    assert result["engine_vs_reference"] > 0 and result["engine_vs_tutorial"] > 0


def test_reference_loop_trains_the_same_model_as_the_engine(small_mnist):
    """Both loops really train: the weights move and the losses are finite numbers."""
    spec = ModelSpec("vae", "mlp")
    for loop in (engine_run, reference_run):
        model = spec.build("cpu", seed=0)
        before = [p.detach().clone() for p in model.parameters()]
        losses = loop(model, small_mnist, steps=4, batch_size=16, lr=1e-3, seed=0, device="cpu")
        assert set(losses) == set(model.loss_names) and all(math.isfinite(float(v)) for v in losses.values())
        assert any(not b.equal(p) for b, p in zip(before, model.parameters()))


def test_sampling_latency_reports_percentiles_and_covers_every_family():
    from benchmarks.sampling_latency import LATENCY_MODELS
    from genai.models import FAMILIES

    assert {spec.family for spec in LATENCY_MODELS} == set(FAMILIES)
    results = run_sampling_latency("cpu", models=LATENCY_MODELS[:2], calls=5, warmup=1, progress=None)
    assert [(r["model"], r["action"]) for r in results] == [
        ("gan-mlp", "grid"), ("gan-mlp", "interpolate"), ("vae-mlp", "grid"), ("vae-mlp", "interpolate")]
    for r in results:
        assert r["calls"] == 5 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"]
    assert set(results[1]["parts_p50_ms"]) == {"frames", "strip", "gif"}


def test_time_to_quality_evaluates_the_default_recipe_and_its_reference(small_mnist, tmp_path):
    runs = default_runs()
    assert [r.family for r in runs] == ["gan", "gan", "vae", "vae"]
    assert runs[0].options == RECIPES["gan"] and runs[2].options == RECIPES["vae"]
    results = [time_to_quality(run, small_mnist, "cpu", max_seconds=0.6, eval_every_seconds=0.2, samples=50,
                               progress=None) for run in (runs[2], runs[3])]
    for result in results:
        assert result["evaluations"], "at least one evaluation"
        assert all(0 <= e["share"] <= 1 for e in result["evaluations"])
        assert all(sum(e["class_counts"]) == 50 and 0 <= e["digits_drawn"] <= 10 for e in result["evaluations"])
        assert result["training_seconds"] >= 0.6 and result["threads"] == 2
        assert result["goal_seconds"] == 20 and result["goal_share"] == 0.75
        assert result["share_at_goal"] is None and result["goal_met"] is False  # 0.6 s is not 20 s
    png = plot(results, tmp_path / "quality.png")
    assert Image.open(png).size == (720, 420)


def test_the_script_writes_json_and_prints_tables(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert bench.main(["--quick", "--only", "sample", "--calls", "2", "--models", "gan-mlp,vae-mlp", "--device", "cpu",
                       "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert {"machine", "command", "mode", "parts", "sample", "total_seconds"} <= set(results)
    assert results["machine"]["device"] == "cpu" and results["mode"] == "quick"
    printed = capsys.readouterr().out
    assert "Sampling latency" in printed and "| gan-mlp " in printed and "interpolate" in printed
    assert str(out) in printed


def test_tables_show_every_part():
    """report() renders all three tables from results in the JSON's shape."""
    memory = {"rss_peak_mb": 400.0, "rss_growth_mb": 31.0, "rss_scope": "this run", "cuda_peak_allocated_mb": None}
    results = {
        "mode": "full", "total_seconds": 1.0,
        "machine": {"device": "cpu", "gpu": None, "cpu": "x", "cores": 2, "torch_threads": 2, "torch": "2",
                    "load_average_1min_at_start": 1.0, "load_average_1min_at_end": 1.0},
        "train": [{"model": "gan-mlp", "images_per_sec": {p: 100.0 for p in PIPELINES}, "engine_vs_reference": 1.0,
                   "engine_vs_tutorial": 1.5, "batch_size": 64, "steps_per_run": 20, "repeats": 5,
                   "memory": {p: memory for p in PIPELINES}}],
        "quality": [{"model": "VAE default recipe", "recipe": {"arch": "mlp", "batch_size": 64, "lr": 1e-3},
                     "goal_seconds": 20.0, "goal_share": 0.75, "share_at_goal": 0.5, "digits_drawn_at_goal": 9,
                     "goal_met": False,
                     "seconds_to_goal_share": 12.5, "training_seconds": 40.0, "steps": 10, "epochs": 0.1,
                     "final_share": 0.4, "final_digits_drawn": 7, "threads": 2, "evaluations": [{}], "samples": 500}],
        "sample": [{"model": "gan-mlp", "action": "grid", "p50_ms": 1.0, "p95_ms": 2.0, "mean_ms": 1.2,
                    "max_ms": 3.0, "parts_p50_ms": {"sample": 0.9}, "calls": 100}],
    }
    text = bench.report(results)
    assert "1.50x" in text and "400 (+31)" in text and "75% at 20 s" in text and "50.0% (9 digits)" in text
    assert "not met" in text and "12.5 s" in text and "sample 0.9" in text


def test_bad_options_give_one_clear_line(tmp_path):
    missing = tmp_path / "no-such-folder"
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--only", "train", "--data-dir", str(missing)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and str(missing) in done.stderr and "Traceback" not in done.stderr
    assert not any((REPO / "benchmarks" / "results").glob("*no-such*"))


def test_only_rejects_unknown_parts(capsys):
    with pytest.raises(SystemExit) as stop:
        bench.build_parser().parse_args(["--only", "train,speed"])
    assert stop.value.code == 2 and "choose from train, quality, sample" in capsys.readouterr().err


def test_models_option_names_every_benchmarked_model():
    assert bench.parse_models(",".join(spec.name for spec in ALL_MODELS)) == ALL_MODELS
    with pytest.raises(Exception, match="choose from gan-mlp"):
        bench.parse_models("gan-transformer")


def test_a_checkpoint_folder_is_timed_with_its_own_settings_and_weights(tmp_path, capsys):
    from genai.checkpoints import save_model
    from genai.models import create_model

    model = create_model("diffusion", "unet", seed=0, conditional=True, channels=8, sampling_steps=3, guidance_t_min=0.5)
    folder = save_model(model, tmp_path / "my-diffusion", dataset="mnist")
    (spec,) = bench.parse_models(str(folder))
    built = spec.build("cpu")
    assert spec.name == str(folder) and built.config.sampling_steps == 3 and built.config.guidance_t_min == 0.5
    assert torch.equal(built.state_dict()["unet.stem.weight"], model.state_dict()["unet.stem.weight"])
    with pytest.raises(Exception, match="choose from"):
        bench.parse_models(str(tmp_path / "missing"))
    out = tmp_path / "results.json"
    assert bench.main(["--quick", "--only", "sample", "--calls", "2", "--models", str(folder), "--device", "cpu",
                       "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["sample"]
    assert {row["model"] for row in rows} == {str(folder)} and rows[0]["weights"] == "the checkpoint's (trained)"


def test_a_goal_needs_the_share_and_every_digit():
    from benchmarks.time_to_quality import meets

    assert meets({"share": 0.9, "digits_drawn": 10}, 0.8)
    assert not meets({"share": 0.95, "digits_drawn": 1}, 0.8)  # a collapsed GAN drawing only 1s
    assert not meets({"share": 0.7, "digits_drawn": 10}, 0.8)


def test_digits_drawn_sees_mode_collapse():
    assert digits_drawn([50] * 10) == 10
    assert digits_drawn([0, 470, 0, 0, 0, 0, 0, 30, 0, 0]) == 2  # almost only "1"s: 30 of 500 is exactly 6%
    assert digits_drawn([0, 475, 0, 0, 0, 0, 0, 25, 0, 0]) == 1


def test_cpu_contention_measures_alone_and_beside_a_busy_process():
    results = run_contention(models=(ModelSpec("vae", "mlp"),), thread_counts=(1,), seconds=0.05)
    assert [(r["threads"], r["busy_neighbour"]) for r in results] == [(1, False), (1, True)]
    assert all(r["steps_per_sec"] > 0 for r in results)


def test_every_recipe_candidate_builds_and_the_defaults_are_among_them():
    from benchmarks.recipe_search import CANDIDATES

    for run in CANDIDATES:
        assert run.build("cpu").family == run.family
    assert {run.family for run in CANDIDATES if run.options in (RECIPES["gan"], RECIPES["vae"])} == {"gan", "vae"}


def test_recipe_search_runs_the_chosen_candidates_in_turn(mnist_dir, tmp_path, monkeypatch, capsys):
    from benchmarks import recipe_search

    assert [run.name for run in recipe_search.chosen("conditional DCGAN; plain")] == [
        "conditional DCGAN-32 + EMA, lr 5e-4", "conditional DCGAN-32 + EMA, lr 1e-3 (default)", "MLP VAE (plain)"]
    ran = []

    def fake_time_to_quality(run, dataset, device, **options):  # the order of the runs is what is tested here
        ran.append(run.name)
        return {"model": run.name, "goal_share": 0.8, "goal_seconds": 60.0, "share_at_goal": 0.5,
                "digits_drawn_at_goal": 10, "goal_met": False, "steps": 3}

    monkeypatch.setattr(recipe_search, "time_to_quality", fake_time_to_quality)
    monkeypatch.setattr(recipe_search, "load_dataset", lambda *args, **kwargs: None)
    path = tmp_path / "search.json"
    recipe_search.main(["--only", "conditional DCGAN", "--rounds", "2", "--json", str(path)])
    assert ran == ["conditional DCGAN-32 + EMA, lr 5e-4", "conditional DCGAN-32 + EMA, lr 1e-3 (default)"] * 2
    assert [run["round"] for run in json.loads(path.read_text())["runs"]] == [1] * (len(ran) // 2) + [2] * (len(ran) // 2)
    with pytest.raises(SystemExit):
        recipe_search.main(["--only", "no such recipe"])
    assert "no candidate's name contains" in capsys.readouterr().err


# --- benchmarks/load_test.py: its helpers, and one round against a stand-in client (no server) ---


def test_load_test_measures_a_process_tree_and_folders(tmp_path):
    me = load_test.process_tree_rss(os.getpid())
    if sys.platform.startswith("linux"):
        assert me["rss_mb"] > 0 and me["processes"] >= 1
    assert load_test.process_tree_rss(None) is None
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "grid.png").write_bytes(b"x" * 1000)
    (tmp_path / "walk.gif").write_bytes(b"x" * 24)
    assert load_test.folder_usage([tmp_path, tmp_path / "missing"]) == {"mb": 0.0, "bytes": 1024, "files": 2}
    assert load_test.folder_usage([]) is None


def test_load_test_summarizes_calls_per_endpoint():
    records = [{"endpoint": "/sample", "latency_s": s, "error": None} for s in (0.1, 0.2, 0.3)]
    records += [{"endpoint": "/interpolate", "latency_s": 9.0, "error": "AppError: boom"},
                {"endpoint": "connect", "latency_s": 0.5, "error": None}]
    summary = load_test.summarize_calls(records)
    assert summary["all"]["calls"] == 4 and summary["all"]["errors"] == 1 and summary["all"]["max_ms"] == 300
    assert summary["/sample"]["p50_ms"] == 200 and summary["/sample"]["errors"] == 0
    assert summary["/interpolate"]["ok"] == 0 and summary["/interpolate"]["p95_ms"] is None
    assert summary["connect"]["calls"] == 1
    assert load_test.error_counts(records) == {"/interpolate: AppError: boom": 1}


class _FakeJob:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def result(self, timeout=None):
        if self.error:
            raise self.error
        return self.value

    def done(self):
        return True

    def outputs(self):
        return [self.value]

    def cancel(self):
        pass


class _FakeClient:
    """Answers like the app: /sample works, /interpolate fails, /train ends at once with a model."""

    def submit(self, *args, api_name):
        if api_name == "/train":
            return _FakeJob((None, None, None, "Stopped. Your model is **my-gan**", "my-gan"))
        if api_name == "/interpolate":
            return _FakeJob(error=ValueError("no walk"))
        return _FakeJob("grid.png")

    def close(self):
        pass


def test_a_load_round_records_every_call_and_the_training(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x" * 10)
    round_ = load_test.run_round(1, lambda i: _FakeClient(), ["gan-mlp", "vae-mlp"], clients=3, calls=6,
                                 interpolate_share=0.5, train_seconds=1, pid=os.getpid(), temp_dirs=[tmp_path],
                                 progress=lambda *_: None)
    latency = round_["latency"]
    assert latency["connect"]["calls"] == 3 and latency["all"]["calls"] == 18 == round_["planned_calls"]
    assert latency["/sample"]["errors"] == 0 and latency["/sample"]["calls"] + latency["/interpolate"]["calls"] == 18
    assert latency["/interpolate"]["errors"] == latency["/interpolate"]["calls"] > 0  # 0.5 of 18 calls
    assert round_["errors"] == {"/interpolate: ValueError: no walk": latency["/interpolate"]["calls"]}
    (training,) = round_["training"]
    assert training["model"] == "my-gan" and training["error"] is None
    assert round_["after"]["temp"]["files"] == 1 and 1 <= round_["distinct_requests"] <= 18
    result = {"options": {"clients": 3, "calls": 6, "rounds": 1, "grid": 8, "walk_steps": 16,
                          "interpolate_share": 0.5, "train_seconds": 1, "models": ["gan-mlp", "vae-mlp"]},
              "before": {"server": None, "temp": None}, "rounds": [round_]}
    text = load_test.report(result)
    assert "| 1 | /sample | " in text and "| after warm-up | unknown | unknown |" in text and "no walk" in text


def test_class_mode_paces_each_student_on_its_own_model_and_reports_each_model(tmp_path):
    """Each student keeps one model (dealt round the class) and moves its own slider one seed per call,
    about every `every` s; two trainings run (a GAN and a VAE, each from its own visitor)."""
    visitors, asked = [], []

    class Student(_FakeClient):
        def __init__(self, i):
            visitors.append(i)

        def submit(self, *args, api_name):
            asked.append((time.perf_counter(), api_name, args))
            return super().submit(*args, api_name=api_name)

    models = ["gan-conditional", "vae-mlp", "diffusion-conditional"]
    round_ = load_test.run_round(1, Student, models, clients=4, calls=3, every=0.05, trainings=2, train_seconds=1,
                                 pid=os.getpid(), temp_dirs=[tmp_path], progress=lambda *_: None)
    assert sorted(visitors) == [0, 1, 2, 3, 4, 5]  # 4 students, then the 2 trainings: 6 visitors
    assert [t["family"] for t in round_["training"]] == ["gan", "vae"]
    samples = [args for _, name, args in asked if name == "/sample"]
    assert len(samples) == 12 and {args[0] for args in samples} == set(models)
    assert round_["latency"]["gan-conditional"]["calls"] == 6 and round_["latency"]["vae-mlp"]["calls"] == 3
    seeds = {}
    for args in samples:
        seeds.setdefault(args[0], []).append(args[1])
    assert all(b - a == 1 for a, b in zip(seeds["vae-mlp"], seeds["vae-mlp"][1:]))  # one slider step per call
    starts = [t for t, name, _ in asked if name == "/sample"]
    assert max(starts) - min(starts) >= 0.05 * 0.75 * 2  # paced: 3 calls each take at least two gaps


def test_load_test_options(capsys):
    lesson = load_test.parse_args(["--class", "--duration", "10"])
    assert (lesson.clients, lesson.calls, lesson.client, lesson.every) == (30, 5, "raw", 2.0)
    assert len({name.split("-")[0] for name in lesson.models}) == 4  # the four families
    quick = load_test.parse_args(["--quick", "--calls", "2"])
    assert (quick.clients, quick.calls, quick.rounds, quick.train_seconds) == (5, 2, 1, 15.0)
    full = load_test.parse_args([])
    assert (full.clients, full.calls, full.rounds) == (30, 25, 2) and "gan-conditional" in full.models
    with pytest.raises(SystemExit):
        load_test.parse_args(["--pid", "1"])  # --pid describes an app given with --url
    assert "--url" in capsys.readouterr().err


def test_the_batching_benchmark_times_both_ways_and_writes_json(tmp_path, capsys):
    from benchmarks import batching_gain

    out = tmp_path / "batching.json"
    batching_gain.main(["--models", "vae-conditional,gan-mlp", "--grids", "2", "--images", "4", "--repeats", "1",
                        "--json", str(out)])
    results = json.loads(out.read_text())["results"]
    assert [row["model"] for row in results] == ["vae-conditional", "gan-mlp"]
    assert all(row["separate_s"] > 0 and row["one_pass_s"] > 0 and row["ratio"] > 0 for row in results)
    assert "| gan-mlp |" in capsys.readouterr().out


def test_the_independent_judge_learns_digits_and_scores_shipped_models(mnist_dir):
    """A short version: 3,000 training images, 5 epochs; the judge reads real digits, not noise."""
    from benchmarks.independent_judge import judged, run_judge, table, train_judge

    results = run_judge(mnist_dir, REPO / "checkpoints", ["gan-conditional"], epochs=5, samples=200, limit=3000)
    assert results["train_images"] == 3000 and results["test_accuracy"] > 0.85
    (row,) = results["models"]
    assert row["checkpoint"] == "gan-conditional" and 0 <= row["rarest_digit_share"] <= 0.1 + 1e-9
    assert abs(sum(row["digit_shares"]) - 1) < 1e-3
    assert "| gan-conditional |" in table(results)
    judge = train_judge(load_dataset("mnist", data_dir=mnist_dir, limit=3000), epochs=5)
    noise = torch.randint(0, 256, (200, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    real = load_dataset("mnist", data_dir=mnist_dir, split="test", limit=200).images
    assert judged(judge, real)[0] > 0.3 and judged(judge, noise)[0] < 0.05  # sure of digits, not of noise


def test_the_recipe_probe_scores_against_training_images_and_balances_the_digits(mnist_dir):
    from benchmarks.recipe_probe import probe
    from genai.metrics import classifier_features, classifier_probabilities, generate_images

    reference = classifier_features(load_dataset("mnist", data_dir=mnist_dir, split="train", limit=1000).images)
    row = probe(REPO / "checkpoints" / "gan-conditional", reference, samples=200, per_digit=10)
    assert row["recognizable_share"] > 0.8 and abs(sum(row["digit_shares"]) - 1) < 1e-3
    assert row["balanced_samples"] == 100 and 0 < row["balanced_fid_vs_train"] and 0 < row["fid_vs_train"]
    assert "--conditional" in row["command"]
    from genai.checkpoints import load_model
    images = generate_images(load_model(REPO / "checkpoints" / "gan-conditional")[0], 600, 0)
    assert row["digit_shares"][0] == pytest.approx((classifier_probabilities(images[:200]).argmax(axis=1) == 0).mean())


def test_the_recipe_probe_draws_at_other_sampling_settings_where_a_model_has_them(mnist_dir, tmp_path, capsys):
    from benchmarks.recipe_probe import describe_sampling, main, probe
    from genai.metrics import classifier_features

    reference = classifier_features(load_dataset("mnist", data_dir=mnist_dir, split="train", limit=500).images)
    few = probe(REPO / "checkpoints" / "diffusion", reference, samples=12, per_digit=1, sampling_steps=2)
    own = probe(REPO / "checkpoints" / "diffusion", reference, samples=12, per_digit=1)
    scale = read_metadata(REPO / "checkpoints" / "diffusion")["config"]["guidance_scale"]  # its guide's scale
    assert few["sampling"] == {"sampling_steps": 2, "guidance_scale": scale}
    assert own["sampling"] == {"sampling_steps": 20, "guidance_scale": scale}
    assert few["fid_vs_train"] != own["fid_vs_train"]  # 2 Euler steps draw other images than 20
    assert describe_sampling({"sampling_steps": 2, "guidance_scale": 1.5}) == "2 steps, guidance 1.5"
    assert describe_sampling({}) == "-"
    # A GAN has no sampling steps: asked for three, it is probed once at its own (no) settings, but at
    # each temperature asked for (every model has one: the seed's noise, scaled).
    out = tmp_path / "probe.json"
    main([str(REPO / "checkpoints" / "gan-conditional"), "--data-dir", str(mnist_dir), "--sampling-steps", "2", "3",
          "--guidance-scale", "1", "--temperature", "1", "0.5", "--samples", "200", "--json", str(out)])
    written = json.loads(out.read_text())
    warm, cool = written["rows"]
    assert written["samples"] == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if "gan-conditional" in line]
    assert warm["sampling"] == cool["sampling"] == {} and (warm["temperature"], cool["temperature"]) == (1, 0.5)
    assert [[cell.strip() for cell in line.split("|")][1:4] for line in lines] == [
        ["gan-conditional", "-", "1"], ["gan-conditional", "-", "0.5"]]
    assert warm["fid_vs_train"] != cool["fid_vs_train"]


def test_speedups_benchmark_measures_each_variant_and_reports_the_ones_that_fail(small_mnist):
    from benchmarks.speedups import BASELINE, Variant, measure_speedups

    variants = (Variant("reference loop", loop="reference"), Variant(BASELINE),
                Variant("batch 128", batch_size=128), Variant("batch 1024", batch_size=1024),
                Variant("batch 1", batch_size=1))  # a batch the training loop refuses
    result = measure_speedups(ModelSpec("vae", "mlp"), small_mnist, "cpu", variants, repeats=2, warmup_steps=1,
                              steps_per_run=2, progress=None)
    rows = {row["variant"]: row for row in result["variants"]}
    assert list(rows) == [v.name for v in variants]
    for name in ("reference loop", BASELINE, "batch 128"):
        row = rows[name]
        assert len(row["runs_images_per_sec"]) == 2 and row["images_per_sec"] > 0 and "error" not in row
        assert row["seconds_per_epoch"] == pytest.approx(60_000 / row["images_per_sec"], rel=1e-3)
        assert row["vs_engine_fp32"] > 0 and row["steps_per_run"] == 2
    assert rows[BASELINE]["vs_engine_fp32"] == 1.0
    assert rows["batch 128"]["lr"] == pytest.approx(2 ** 0.5 * rows[BASELINE]["lr"])  # the square-root rule
    assert "larger than the dataset" in rows["batch 1024"]["error"]  # 256 images here
    assert "TrainingError" in rows["batch 1"]["error"] and "images_per_sec" not in rows["batch 1"]


def test_speedups_benchmark_hands_over_its_results_so_far_for_a_run_cut_short(small_mnist, tmp_path, capsys):
    from benchmarks.speedups import BASELINE, Variant, main, measure_speedups

    variants = (Variant(BASELINE), Variant("batch 128", batch_size=128), Variant("too big", batch_size=4096))
    updates = []
    final = measure_speedups(ModelSpec("vae", "mlp"), small_mnist, "cpu", variants, repeats=2, warmup_steps=1,
                             steps_per_run=2, progress=None, on_update=lambda result: updates.append(json.dumps(result)))
    updates = [json.loads(u) for u in updates]
    assert [u["rounds_done"] for u in updates] == [0, 0, 1, 2]  # after each warm-up, then after each round
    first = {row["variant"]: row for row in updates[0]["variants"]}
    assert "first_run_seconds" in first[BASELINE] and "images_per_sec" not in first[BASELINE]
    assert set(first["batch 128"]) == {"variant", "batch_size", "loop", "lr"}  # not warmed up
    after_one = {row["variant"]: row for row in updates[2]["variants"]}
    assert len(after_one["batch 128"]["runs_images_per_sec"]) == 1 and "larger than" in after_one["too big"]["error"]
    assert updates[-1] == json.loads(json.dumps(final))

    cut = {"machine": {"gpu": None, "cpu": "test", "cores": 2, "torch_threads": 2, "device": "cpu", "torch": "x"},
           "mode": "quick", "cuda": None, "dataset": "256 images", "complete": False,
           "speed": [updates[2]]}
    (tmp_path / "cut.json").write_text(json.dumps(cut))
    assert main(["--report", str(tmp_path / "cut.json")]) == 0
    out = capsys.readouterr().out
    assert "median of 1 rounds, cut short: 1 of 2 planned" in out and "| batch 128 " in out


def test_speedups_quality_runs_scale_the_default_gan_and_find_the_time_to_90_percent():
    from benchmarks.speedups import GPU_GOAL, QUALITY_VARIANTS, quality_runs, seconds_to_share

    runs = quality_runs()
    assert [r.options["batch_size"] for r in runs] == [v.batch_size for v in QUALITY_VARIANTS]
    assert all(r.goal == GPU_GOAL and r.family == "gan" for r in runs)
    assert runs[0].options["lr"] == RECIPES["gan"]["lr"]
    assert runs[-1].options["lr"] == pytest.approx(RECIPES["gan"]["lr"] * 4)  # batch 1024 = 16 x 64
    evaluations = [{"seconds": 1.0, "share": 0.95, "digits_drawn": 9}, {"seconds": 2.0, "share": 0.85, "digits_drawn": 10},
                   {"seconds": 3.0, "share": 0.91, "digits_drawn": 10}]
    assert seconds_to_share(evaluations, 0.9) == 3.0  # 1 s drew only 9 digits
    assert seconds_to_share(evaluations[:2], 0.9) is None


def test_speedups_quality_variants_are_chosen_by_name_and_larger_batches_get_the_square_root_rate():
    from benchmarks.speedups import build_parser, quality_runs

    args = build_parser().parse_args(["--quality-variants", "batch 1024,batch 4096"])
    runs = quality_runs(args.quality_variants)
    assert [r.options["batch_size"] for r in runs] == [1024, 4096]
    assert runs[1].options["lr"] == pytest.approx(RECIPES["gan"]["lr"] * 8)  # batch 4096 = 64 x 64
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--quality-variants", "batch 8192"])
    twice, stronger_d = quality_runs(build_parser().parse_args(
        ["--quality-variants", "batch 1024 lr x2,batch 1024 D lr x2"]).quality_variants)
    assert twice.options["lr"] == pytest.approx(RECIPES["gan"]["lr"] * 8) and "d_lr_ratio" not in twice.options
    assert stronger_d.options["lr"] == pytest.approx(RECIPES["gan"]["lr"] * 4) and stronger_d.options["d_lr_ratio"] == 2.0
    assert stronger_d.build("cpu").config.d_lr_ratio == 2.0  # the model D learns faster in


def test_speedups_report_prints_the_tables_of_a_run_cut_short(tmp_path, capsys):
    from benchmarks.speedups import main

    code = main(["--report", str(REPO / "benchmarks/results/speedups-cuda-2026-12-04-compiler.json")])
    out = capsys.readouterr().out
    assert code == 0 and "cut short" in out and "NVIDIA H200" in out and "| compile " in out
    (tmp_path / "bad.json").write_text("{}")
    assert main(["--report", str(tmp_path / "bad.json")]) == 2


def test_speedups_script_writes_json_and_tables(mnist_dir, tmp_path):
    out = tmp_path / "speedups.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.speedups", "--quick", "--device", "cpu", "--limit", "512",
                           "--models", "vae-mlp", "--variants", "engine fp32,batch 256", "--repeats", "1",
                           "--no-quality", "--data-dir", str(mnist_dir), "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert [v["variant"] for v in results["speed"][0]["variants"]] == ["engine fp32", "batch 256"]
    assert results["machine"]["torch"] == torch.__version__ and "quality" not in results and results["complete"]
    assert "s per 60k epoch" in done.stdout and "vae-mlp" in done.stdout


def test_the_category_probe_fixes_each_category_and_reads_the_shipped_infogans_digits():
    """The shipped MLP GAN learned 10 categories without labels; most of them should be one digit."""
    from benchmarks.gan_categories import category_digits, noise_for_category
    from genai.checkpoints import load_model
    from genai.models.gan import category_code

    z = noise_for_category(3, 10, 50, 72, torch.Generator().manual_seed(0))
    assert (category_code(z, 10)[1] == 3).all()
    model, _ = load_model(REPO / "checkpoints" / "gan-mlp")
    rows = category_digits(model, per_category=40)
    assert [r["category"] for r in rows] == list(range(10)) and all(sum(r["digit_counts"]) == 40 for r in rows)
    single_digit = [r for r in rows if max(r["digit_counts"]) >= 0.8 * 40]
    assert len(single_digit) >= 6
    assert len({max(range(10), key=r["digit_counts"].__getitem__) for r in single_digit}) == len(single_digit)


def test_loop_versions_times_this_tree_beside_an_exported_revision(mnist_dir, tmp_path, capsys):
    """Each side runs in its own process with its own copy of genai (the child checks which it imported)."""
    from benchmarks import loop_versions

    out = tmp_path / "versions.json"
    loop_versions.main(["--against", "HEAD", "--models", "gan-mlp", "--rounds", "1", "--steps", "2", "--warmup", "1",
                        "--limit", "256", "--data-dir", str(mnist_dir), "--json", str(out)])
    result = json.loads(out.read_text())
    row = result["results"]["gan-mlp"]
    assert len(row["new"]) == len(row["old"]) == len(row["ratios"]) == 1  # one round: each side's process once
    assert all(value > 0 for value in row["new"] + row["old"]) and row["ratio"] > 0
    assert result["against"] == "HEAD" and "| gan-mlp " in capsys.readouterr().out


def test_loop_versions_refuses_an_unknown_revision(mnist_dir):
    from benchmarks import loop_versions

    with pytest.raises(SystemExit, match="Cannot export genai/ at revision 'no-such-commit'"):
        loop_versions.main(["--against", "no-such-commit", "--models", "gan-mlp", "--data-dir", str(mnist_dir)])


def test_steps_to_quality_judges_every_few_steps_and_stops_at_the_goal(small_mnist, monkeypatch):
    from benchmarks import steps_to_quality as stq

    options = stq.gan_variant(16, 4e-3)
    result = stq.steps_to_quality("tiny", options, small_mnist, "cpu", max_steps=6, eval_every=2, samples=20)
    assert [e["step"] for e in result["evaluations"]] == [2, 4, 6]  # the last event is not judged twice
    assert result["evaluations"][-1]["images"] == 6 * 16 and result["steps_to_goal"] is None

    # A judge that reads every digit, 10% each, 95% recognizable: the goal is met at the first look.
    monkeypatch.setattr(stq, "judge", lambda model, classifier, samples, seed: (0.95, [samples // 10] * 10))
    result = stq.steps_to_quality("tiny", options, small_mnist, "cpu", max_steps=6, eval_every=2, samples=20)
    assert result["steps_to_goal"] == 2 and result["images_to_goal"] == 32 and len(result["evaluations"]) == 1
    assert "| tiny    | 0    | 2 " in stq.table([result])


def test_steps_to_quality_trains_each_seed_apart_and_refuses_bad_seeds(small_mnist, mnist_dir, capsys, monkeypatch):
    from benchmarks import steps_to_quality as stq

    judged = []  # the weights of each model judged: another seed is another run, not a copy
    monkeypatch.setattr(stq, "judge", lambda model, classifier, samples, seed: (
        judged.append(torch.cat([p.flatten() for p in model.parameters()])) or (0.0, [0] * 10)))
    options = stq.gan_variant(16, 4e-3)
    runs = [stq.steps_to_quality("tiny", options, small_mnist, "cpu", max_steps=2, eval_every=2, samples=20,
                                 seed=seed, progress=None) for seed in (0, 1, 0)]
    assert [run["seed"] for run in runs] == [0, 1, 0]
    assert not torch.equal(judged[0], judged[1]) and torch.equal(judged[0], judged[2])
    with pytest.raises(SystemExit):
        stq.main(["--seeds", "0;1", "--data-dir", str(mnist_dir)])
    assert "whole numbers separated by commas" in capsys.readouterr().err


def test_step_profile_counts_the_operators_of_a_step_and_cancels_the_setup(mnist_dir, tmp_path, capsys):
    from benchmarks import step_profile

    path = tmp_path / "profile.json"
    results = step_profile.main(["--families", "vae,gan", "--batches", "8", "--steps", "2", "--warmup-steps", "1",
                                 "--limit", "256", "--data-dir", str(mnist_dir), "--json", str(path)])
    vae, gan = results
    # A step runs the forward, backward and optimizer operators: dozens, not a run's setup divided by 2.
    assert 30 < vae["operators_per_step"] < gan["operators_per_step"] < 1000
    assert all(r["ms_per_step"] > 0 and r["kernels_per_step"] is None and r["busy_share"] is None for r in results)
    assert gan["top_operators"] and all(op["name"].startswith("aten::") for op in gan["top_operators"])
    assert json.loads(path.read_text())["results"][0]["family"] == "vae"
    assert "| vae " in capsys.readouterr().out


def test_step_profile_takes_per_step_figures_from_the_difference_of_two_runs():
    from collections import Counter

    from benchmarks.step_profile import per_step

    def tallies(operator_calls, kernel_calls):
        return (Counter({"aten::mm": operator_calls}), Counter({"aten::mm": 10.0 * operator_calls}),
                Counter({"gemm": kernel_calls}), Counter({"gemm": 5.0 * kernel_calls}))

    # Setup: 7 calls; each step: 3 operators, 2 kernels of 5 us each. Runs of 4 and 8 steps.
    figures = per_step(tallies(7 + 3 * 4, 2 * 4), tallies(7 + 3 * 8, 2 * 8), 4)
    assert figures["operators_per_step"] == 3 and figures["kernels_per_step"] == 2
    assert figures["device_busy_ms_per_step"] == 0.01
    assert figures["top_kernels"][0]["calls_per_step"] == 2


def test_step_profile_refuses_unknown_families_and_bad_batches(mnist_dir, capsys):
    from benchmarks import step_profile

    with pytest.raises(SystemExit):
        step_profile.main(["--families", "gann", "--data-dir", str(mnist_dir)])
    assert "unknown family ['gann']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        step_profile.main(["--batches", "64;1024", "--data-dir", str(mnist_dir)])
    assert "whole numbers separated by commas" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        step_profile.main(["--families", "vae", "--batches", "512", "--limit", "256", "--data-dir", str(mnist_dir)])
    assert "larger than the 256 training images" in capsys.readouterr().err


def test_evaluate_speed_times_a_models_evaluation_its_drawing_and_the_tabs_estimate(mnist_dir):
    pytest.importorskip("gradio")  # the estimate is the Evaluate tab's own (genai/ui/evaluate_time.py)
    from benchmarks.evaluate_speed import measure, shipped_models
    from genai.models import create_model

    test = load_dataset("mnist", data_dir=mnist_dir, split="test")
    figures = measure("fresh-gan", create_model("gan", "mlp", seed=0).eval().requires_grad_(False), test, samples=100)
    assert set(figures) == {"estimate_s", "sampling_s", "evaluate_s"}
    assert all(math.isfinite(value) and value >= 0 for value in figures.values())
    assert "gan-conditional" in shipped_models(REPO / "checkpoints") and "classifier" not in shipped_models(
        REPO / "checkpoints")


def test_the_abuse_benchmark_judges_each_attack_by_the_issues_limits():
    """benchmarks/abuse.py's verdicts, from rows in its JSON's shape (the attacks themselves need a server)."""
    from benchmarks import abuse

    def row(attack, growth, p95, refused=1, slowest=0.1, errors=0):
        return {"attack": attack, "rss_growth_mb": growth, "rss_peak_mb": 600.0,
                "attacker": {"calls": 1, "refused": refused, "slowest_s": slowest, "first_answer": "no | way"},
                "student": {"grids": 9, "p95_s": p95, "errors": errors}}

    assert all(abuse.verdicts(row("hammer", 20.0, 1.9)).values())
    assert abuse.verdicts(row("hammer", 151.0, 0.5)) == {"memory": False, "student": True}
    assert not abuse.verdicts(row("step_spam", 10.0, 1.5))["student"]  # its limit is 1 s, not 2 s
    assert not abuse.verdicts(row("new_sessions", 10.0, 0.5, errors=1))["student"]
    assert not abuse.verdicts(row("batch_bomb", 1.0, 0.3, slowest=1.5))["refusal"]  # refused, but too slowly
    assert not abuse.verdicts(row("batch_bomb", 1.0, 0.3, refused=0))["refusal"]
    text = abuse.report({"attacks": [row("hammer", 20.0, 1.9), row("batch_bomb", 1.0, 0.3, slowest=1.5)],
                         "temp_after_ttl": {"mb": 3.0, "files": 2}, "largest_files_after_ttl": []})
    assert "| hammer | 1 (1) | no / way |" in text and "| yes |" in text and "NO: refusal" in text
    assert set(abuse.ATTACKS) >= {"new_sessions", "refused_calls", "batch_bomb", "step_spam", "hammer", "slot_hold",
                                  "upload_parts", "blob_parts", "big_text"}


def test_demonstrations_turns_a_live_setting_at_its_step_and_reads_the_grid(small_mnist, monkeypatch):
    """--turn 20:d_lr_ratio=0.5: the knob is turned once the run has taken 20 steps, as a teacher turns it."""
    from benchmarks import demonstrations

    assert demonstrations.parse_turns(["600:d_lr_ratio=0.001", "600:lr=0.01", "10:beta=2"]) == {
        600: {"d_lr_ratio": 0.001, "lr": 0.01}, 10: {"beta": 2.0}}
    seen = []
    real_turn = demonstrations.LiveKnobs.turn
    monkeypatch.setattr(demonstrations.LiveKnobs, "turn", lambda self, **values: seen.append(values)
                        or real_turn(self, **values))
    options = demonstrations.parse_candidate("gan:arch=mlp,conditional=False,batch_size=16")
    readings = demonstrations.run(options, small_mnist, steps=40, every=20, turns={20: {"d_lr_ratio": 0.5}})
    assert seen == [{"d_lr_ratio": 0.5}]  # (the run's events come every 20 steps)
    assert [r["step"] for r in readings] == [20, 40] and all(0 <= r["top_share"] <= 1 for r in readings)
