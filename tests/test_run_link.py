"""A link to a run (genai/run_link.py): it carries the Train form's settings, fills the form, and
re-running it gives the same weights."""

import io
import zipfile

import pytest
from gradio_client import Client
from safetensors.torch import load

from genai.run_link import MAX_QUERY_CHARS, run_query, values_from_query


def test_a_link_carries_the_forms_settings_and_the_steps_taken():
    query = run_query({"dataset": "mnist", "family": "vae", "arch": "mlp", "conditional": False, "latent_dim": 8,
                       "seconds": 20.0, "batch_size": 64, "lr": 0.002, "beta": 3.0, "seed": 7, "max_steps": None,
                       "channels": 32}, steps=412)
    assert query == ("?dataset=mnist&family=vae&arch=mlp&conditional=false&latent_dim=8&seconds=20&batch_size=64&"
                     "lr=0.002&beta=3&seed=7&max_steps=412")  # channels is not on the form: not carried
    values, unknown = values_from_query(query)
    assert values["conditional"] is False and values["seed"] == "7" and values["max_steps"] == "412" and not unknown


def test_a_tampered_link_gives_text_for_the_forms_checks_and_names_what_is_not_a_setting():
    values, unknown = values_from_query("?family=gan&batch_size=" + "9" * 500 + "&conditional=maybe&rm=-rf")
    assert len(values["batch_size"]) <= 40 and values["conditional"] == "maybe" and unknown == ["rm"]
    assert values_from_query("?seed=" + "1" * MAX_QUERY_CHARS) == ({}, ["the link is too long to be a link to a run"])


def weights_of(client, name):
    archive = client.predict(name, api_name="/download")["value"]
    with zipfile.ZipFile(archive) as folder:
        member = next(n for n in folder.namelist() if n.endswith("model.safetensors"))
        return load(folder.read(member))


def test_the_link_of_a_run_fills_the_form_and_the_same_settings_give_the_same_weights(mnist_dir, tmp_path):
    import app_server
    from genai.ui.train_form import form_settings

    server = app_server.start(mnist_dir)
    first, second = (Client(server.url, verbose=False, analytics_enabled=False, download_files=str(tmp_path / n))
                     for n in ("a", "b"))
    form = ["mnist", "vae", "mlp", False, 8, 30, 32, 2e-3, 1.0, 5, 25, 1.0]
    final = first.submit(*form, api_name="/train").result()
    link = final[-1]["value"]  # (the link box's update: shown, with the link)
    assert "max_steps=25" in link and "seed=5" in link and "family=vae" in link

    values, _ = values_from_query(link.split("?", 1)[1])
    again = second.submit(*[values.get(name) for name in form_settings()], api_name="/train").result()
    assert again[-1]["value"] == link  # the same settings and steps, so the same link ...
    one, other = weights_of(first, final[4]), weights_of(second, again[4])
    assert one.keys() == other.keys() and all((one[k] == other[k]).all() for k in one)  # ... and the same weights
