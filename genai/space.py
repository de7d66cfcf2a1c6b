"""Publish this app as a Hugging Face Space: `python -m genai deploy-space --repo user/name`.

A Space is a Hub repository that the Hub runs: for the Gradio SDK it installs requirements.txt,
reads the YAML at the top of README.md (sdk, sdk_version, app_file) and starts app.py.
deploy_space creates the Space if needed and uploads what the app needs to run, through
huggingface_hub's HTTP API (no git needed):

    app.py, requirements.txt, README.md, LICENSE, .gitattributes, genai/**/*.py,
    checkpoints/*/{config.json, model.safetensors, README.md}

The Hub refuses binary files that are not stored with Git LFS; .gitattributes (uploaded
with the app, as in the Spaces template) marks *.safetensors, *.png and *.gif for LFS.
"""

from pathlib import Path

from .hub import HubError, explained, hub_endpoint, parse_model_id

REPO_ROOT = Path(__file__).resolve().parents[1]
TOP_FILES = ("app.py", "requirements.txt", "README.md", "LICENSE", ".gitattributes")
CHECKPOINT_FILES = ("config.json", "model.safetensors", "README.md")


def space_files(root=REPO_ROOT):
    """The app's files, relative to root, in a stable order."""
    root = Path(root)
    missing = [name for name in ("app.py", "requirements.txt", "README.md") if not (root / name).is_file()]
    if missing:
        raise HubError(f"deploy-space uploads the app from a clone of genai's repository; {root} has no "
                       f"{', '.join(missing)}.")
    files = [name for name in TOP_FILES if (root / name).is_file()]
    files += sorted(str(p.relative_to(root)) for p in (root / "genai").rglob("*.py") if "__pycache__" not in p.parts)
    checkpoints = root / "checkpoints"
    if checkpoints.is_dir():
        for folder in sorted(checkpoints.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                files += [f"checkpoints/{folder.name}/{name}" for name in CHECKPOINT_FILES if (folder / name).is_file()]
    return files


def deploy_space(repo_id, token=None, private=False, root=REPO_ROOT):
    """Create the Gradio Space repo_id if needed and upload the app into it; returns the commit URL."""
    from huggingface_hub import HfApi

    if parse_model_id(repo_id) is None or "@" in repo_id:
        raise HubError(f"{repo_id!r} is not a Space id: give it as user/name.")
    files = space_files(root)
    api = HfApi(endpoint=hub_endpoint(), token=token, library_name="genai")
    with explained(repo_id, writing=True):
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=root, repo_id=repo_id, repo_type="space", allow_patterns=files,
                                   commit_message="Deploy the genai app")
    return commit.commit_url
