"""Forget the files Gradio handed out once they are old, without racing the requests that add more.

Every picture, GIF or download an event returns is copied into Gradio's cache, and its path is
added to a set on the Blocks (`blocks.temp_file_sets`). Gradio's own `delete_cache` option walks
those sets in a background thread while request threads keep adding to them; when an addition
lands mid-walk, Python raises "Set changed size during iteration" and Gradio's cleanup loop ends
for the rest of the server's life (seen in the load benchmark, docs/benchmarks.md). So the app
does not use `delete_cache`; its sweeper (session.py) calls `forget_old_files` instead, which
walks a copy of each set: `list(a_set)` of strings runs without releasing the GIL, so no request
can change the set while it is copied.
"""

import os
import time
from pathlib import Path


def forget_old_files(blocks, max_age_seconds, now=None):
    """Delete the files of blocks' temp sets older than max_age_seconds, and drop their paths from the sets.

    Files a component asked to keep (`keep_in_cache`, e.g. example images) stay. A path whose file
    is already gone (another sweep removed it) is dropped too, so the sets do not grow without end.
    Returns how many paths were dropped.
    """
    cutoff = (time.time() if now is None else now) - max_age_seconds
    keep = set()
    for component in list(blocks.blocks.values()):
        keep.update(getattr(component, "keep_in_cache", ()))
    dropped = 0
    for paths in list(blocks.temp_file_sets):
        for path in list(paths):
            if path in keep:
                continue
            try:
                # Gradio touches a cached file when it hands it out again, so its age counts from the last use.
                if Path(path).lstat().st_mtime >= cutoff:
                    continue
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue  # not ours to remove (permissions): leave it listed
            paths.discard(path)
            dropped += 1
    return dropped
