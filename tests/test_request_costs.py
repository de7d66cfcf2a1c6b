"""A request for digits says what it will cost before it runs (genai/ui/request_costs.py): the passes its
settings take, the model's speed timed on this server, the refusal of one too long, with what fits."""

import json

import pytest

from genai.models import create_model
from genai.ui import batching, request_costs
from genai.ui.errors import AppError


def tiny(family, arch, **config):
    return create_model(family, arch, **config).eval()


@pytest.fixture(autouse=True)
def fresh_speeds(monkeypatch):
    monkeypatch.setattr(request_costs, "_speeds", {})
    monkeypatch.setattr(request_costs, "_probing", {})


def test_passes_count_each_step_and_each_guided_step_twice():
    guided = tiny("diffusion", "unet", conditional=True, channels=8, sampling_steps=20, guidance_scale=2.0,
                  guidance_t_min=0.0, guidance_t_max=1.0)
    assert guided.sampling_passes() == 40  # 20 steps, each with its unconditional answer too
    assert guided.sampling_passes(sampling_steps=200) == 400
    assert guided.sampling_passes(guidance_scale=1.0) == 20  # no guidance: one pass a step
    interval = tiny("diffusion", "unet", conditional=True, channels=8, sampling_steps=20, guidance_t_min=0.0,
                    guidance_t_max=0.5)
    assert interval.sampling_passes() == 30  # guided only for t <= 0.5: 10 of the 20 steps
    plain = tiny("diffusion", "unet", conditional=False, channels=8, sampling_steps=20)
    assert plain.sampling_passes(guidance_scale=3.0) == 20  # nothing to guide by
    assert tiny("autoregressive", "pixelcnn", channels=4, layers=1).sampling_passes() == 784
    assert tiny("gan", "mlp").sampling_passes() == 1


def test_the_prediction_scales_with_images_and_passes(monkeypatch):
    model = tiny("diffusion", "unet", conditional=True, channels=8, sampling_steps=20, guidance_scale=2.0)
    monkeypatch.setitem(request_costs._speeds, request_costs.kind(model),
                        request_costs.Speed(per_call=0.01, per_image=0.02))
    assert request_costs.predicted_seconds(model, 64) == pytest.approx(0.01 + 64 * 0.02)
    # 10 times the passes (200 guided steps against 20), the per-call part too (a diffusion model's is per step)
    assert request_costs.predicted_seconds(model, 64, {"sampling_steps": 200}) == pytest.approx(10 * (0.01 + 64 * 0.02))
    assert request_costs.predicted_seconds(model, 64, {"guidance_scale": 1.0}) == pytest.approx((0.01 + 64 * 0.02) / 2)


def test_a_models_speed_is_timed_once_per_kind_and_then_learns_from_its_draws():
    model = tiny("gan", "mlp")
    first = request_costs.speed(model)
    assert first.per_call >= 0 and first.per_image >= 0 and first.per_call + first.per_image > 0
    twin = tiny("gan", "mlp")  # other weights, same kind: same speed, not timed again
    assert request_costs.speed(twin) is first
    assert request_costs.speed(tiny("gan", "mlp", latent_dim=8)) is not first
    predicted = first.seconds(64)
    request_costs.record(model, 64, {}, 3 * predicted)  # it took 3 times the prediction
    assert first.correction == pytest.approx(1 + request_costs.LEARNING_RATE * 2)
    request_costs.record(model, 64, {}, 1000 * predicted)  # a stalled machine moves it at most MOST_OFF times
    assert first.correction < request_costs.MOST_OFF * 2


def test_a_request_over_the_limit_is_refused_before_it_runs_saying_what_fits(monkeypatch):
    monkeypatch.setenv("GENAI_MAX_REQUEST_SECONDS", "10")
    model = tiny("diffusion", "unet", conditional=False, channels=8, sampling_steps=20)
    monkeypatch.setitem(request_costs._speeds, request_costs.kind(model),
                        request_costs.Speed(per_call=0.0, per_image=0.01))  # 64 digits at 20 steps: 0.64 s
    decoded = []
    monkeypatch.setattr(batching, "decode", lambda *args: decoded.append(args))
    with pytest.raises(AppError) as refused:
        batching.draw_together("token", model, 0, 144, None, 1.0, {"sampling_steps": 200})  # 14.4 s
    message = str(refused.value)
    assert not decoded  # nothing ran
    assert "about 14 s" in message and "at most 10 s" in message
    assert "at most 138 sampling steps" in message  # 144 x 0.01 x 138/20 = 9.94 s fits; 139 steps do not
    assert "at most 138 sampling steps or at most 100 digits." in message  # 100 x 0.01 x 10 = 10 s
    assert request_costs.check_fits(model, 64, {"sampling_steps": 100}) == pytest.approx(3.2)  # fits: its cost


def test_a_gans_grid_is_never_refused_at_the_default_limit():
    model = tiny("gan", "dcgan")
    assert request_costs.check_fits(model, 144) < request_costs.max_request_seconds()


def test_the_first_request_of_a_new_kind_times_the_model_in_its_own_slot_then_is_checked(monkeypatch):
    """No model of its kind was timed yet: the request waits as a cheap one, its slot times the model, and
    an over-long request is refused then, before it draws anything."""
    monkeypatch.setenv("GENAI_MAX_REQUEST_SECONDS", "0.1")
    model = tiny("diffusion", "unet", conditional=False, channels=8, sampling_steps=20)
    slots_asked = []
    real_slot = request_costs.compute_slot
    monkeypatch.setattr(request_costs, "compute_slot", lambda seconds=0.0: slots_asked.append(seconds) or
                        real_slot(seconds))
    with pytest.raises(AppError, match="at most 0.1 s"):
        with request_costs.computing(model, 144, {"sampling_steps": 200}, what="digits"):
            pytest.fail("it drew")
    assert slots_asked == [0.0] and request_costs.known_speed(model) is not None
    with pytest.raises(AppError):  # now known: refused before it waits for a slot at all
        with request_costs.computing(model, 144, {"sampling_steps": 200}, what="digits"):
            pytest.fail("it drew")
    assert slots_asked == [0.0]
    monkeypatch.setenv("GENAI_MAX_REQUEST_SECONDS", "1000")
    with request_costs.computing(model, 144, {"sampling_steps": 200}) as seconds:  # now it fits
        assert seconds > 0
    assert slots_asked[-1] == seconds


def test_the_benchmark_compares_predicted_and_measured_seconds(tmp_path, capsys):
    from benchmarks import request_costs as benchmark

    out = tmp_path / "costs.json"
    benchmark.main(["--models", "gan-conditional", "--repeats", "1", "--json", str(out)])
    rows = json.loads(out.read_text())["results"]
    assert [row["images"] for row in rows] == [64, 144, 16]  # the GAN has no sampling steps to vary
    assert all(row["predicted_s"] > 0 and row["measured_s"] > 0 for row in rows)
    assert "| gan-conditional | 144 | its own | 1 |" in capsys.readouterr().out
