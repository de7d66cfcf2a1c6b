"""Tests for genai.data: reading IDX files, finding them, downloading them. No internet needed.

Small fixture files are written under tmp_path; downloads come from a local HTTP server.
"""

import gzip
import hashlib
import http.server
import socket
import struct
import threading
import tracemalloc
import zlib

import numpy as np
import pytest
import torch

from genai import data
from genai.data import DatasetError, download_dataset, find_dataset_dir, load_dataset, load_training_set, read_idx

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ---------------------------------------------------------------------------------------------
# Helpers: write tiny IDX files
# ---------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array as IDX bytes: magic 0x0000080N, N big-endian dims, then the data."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path, array, gz=False):
    payload = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def write_split(directory, split, n, gz=False, first_label=0):
    """Write one split of n images whose pixel [0, 0] and label both encode the index."""
    directory.mkdir(parents=True, exist_ok=True)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    labels = (np.arange(n) + first_label) % 10
    stem_images, stem_labels = data.SPLIT_FILES[split]
    write_idx(directory / stem_images, images, gz)
    write_idx(directory / stem_labels, labels, gz)
    return images, labels


def make_dataset_dir(directory, n_train=6, n_test=4, gz=False):
    if n_train:
        write_split(directory, "train", n_train, gz)
    if n_test:
        write_split(directory, "test", n_test, gz, first_label=5)
    return directory


def md5_of_tree(directory):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Keep every test away from the real home cache, $GENAI_DATA_DIR, system dirs and the network."""
    monkeypatch.setenv("GENAI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GENAI_DATA_DIR", raising=False)
    monkeypatch.setitem(data.SYSTEM_DIRS, "fashion-mnist", (tmp_path / "usr-share-fashion-mnist",))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    closed = f"http://127.0.0.1:{closed_port()}/"
    monkeypatch.setattr(data, "MIRRORS", {name: (closed,) for name in data.DATASET_NAMES})


def closed_port() -> int:
    """A localhost port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The real MNIST test split (read-only shared files)
# ---------------------------------------------------------------------------------------------


def test_real_mnist_test_split(mnist_dir):
    before = md5_of_tree(mnist_dir)
    ds = load_dataset("mnist", data_dir=mnist_dir, split="test", download=False)
    assert ds.verified  # the published files, recognised by checksum
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (ds.total, 28, 28)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (ds.total,)
    assert int(ds.labels.min()) == 0 and int(ds.labels.max()) == 9
    assert ds.split == "test"
    assert ds.class_names == tuple("0123456789")
    assert f"{ds.total:,} images (test split)" in ds.describe()
    # White digit on black: the background (most pixels) is 0.
    assert (ds.images == 0).float().mean() > 0.5
    assert md5_of_tree(mnist_dir) == before


def test_real_mnist_images_match_published_md5(mnist_dir):
    """Header + pixels rebuild the uncompressed file whose MD5 the dataset README gives."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    assert hashlib.md5(idx_bytes(images)).hexdigest() == "2646ac647ad5339dbf082846283269ea"


def test_training_uses_the_train_split_and_a_limit_asks_for_a_subset(mnist_dir):
    ds = load_dataset("mnist", data_dir=mnist_dir, download=False, limit=500)
    assert ds.split == "train" and ds.verified and not ds.warning
    assert len(ds) == 500 and ds.total > 500
    assert f"500 of {ds.total:,} images (train split)" in ds.describe()
    assert ds.record() == {"dataset": "mnist", "split": "train", "images": 500, "split_images": ds.total,
                           "verified_files": True}
    test = load_dataset("mnist", data_dir=mnist_dir, split="test", download=False, limit=500)
    assert not torch.equal(ds.images, test.images)  # different images, not the same file twice


def test_fashion_mnist_chosen_with_the_mnist_folder_is_refused(mnist_dir):
    """Both datasets use the same file names: the checksum tells them apart."""
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion-mnist", data_dir=mnist_dir, download=False)
    message = str(err.value)
    assert "MNIST's train images" in message and "not Fashion-MNIST's" in message and "'mnist'" in message
    with pytest.raises(DatasetError, match="MNIST's train images"):
        load_training_set("fashion-mnist", data_dir=mnist_dir, download=False)


def test_a_known_file_under_the_wrong_name_is_refused(tmp_path, mnist_dir):
    """The test images copied in as train images are recognised and refused (not learned from)."""
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "train-images-idx3-ubyte.gz").write_bytes((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (directory / "train-labels-idx1-ubyte.gz").write_bytes((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DatasetError, match="holds MNIST's test images"):
        load_dataset("mnist", data_dir=directory)


def test_unknown_files_load_but_are_marked_unverified(tmp_path):
    ds = load_dataset("mnist", data_dir=make_dataset_dir(tmp_path / "d"))
    assert not ds.verified and "files not the published ones" in ds.describe()


def test_a_folder_with_only_a_test_split_trains_with_a_warning(tmp_path):
    directory = make_dataset_dir(tmp_path / "d", n_train=0, n_test=4)
    with pytest.raises(data.DatasetNotFound, match="train-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=directory)
    ds = load_training_set("mnist", data_dir=directory)
    assert ds.split == "test" and len(ds) == 4
    assert "TEST split" in ds.warning and ds.record()["split"] == "test"


def test_training_set_prefers_the_train_split(tmp_path):
    ds = load_training_set("mnist", data_dir=make_dataset_dir(tmp_path / "d", n_train=6, n_test=4))
    assert ds.split == "train" and len(ds) == 6 and not ds.warning


@pytest.mark.parametrize("limit", [0, -3, 2.5, True, "10"])
def test_a_bad_limit_is_refused(tmp_path, limit):
    with pytest.raises(DatasetError, match="limit"):
        load_dataset("mnist", data_dir=make_dataset_dir(tmp_path / "d"), limit=limit)


def test_a_limit_above_the_split_size_takes_the_whole_split(tmp_path):
    ds = load_dataset("mnist", data_dir=make_dataset_dir(tmp_path / "d", n_train=6), limit=1000)
    assert len(ds) == 6 == ds.total


# ---------------------------------------------------------------------------------------------
# Reading and loading local files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_the_train_split_by_default(tmp_path, gz):
    directory = make_dataset_dir(tmp_path / "d", n_train=6, n_test=4, gz=gz)
    ds = load_dataset("mnist", data_dir=directory)
    assert ds.split == "train"
    assert len(ds) == 6 and ds.images.shape == (6, 28, 28)
    assert ds.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert ds.images[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert ds.directory == directory.resolve()
    assert "6 images (train split" in ds.describe()


@pytest.mark.parametrize("split, n", [("train", 6), ("test", 4)])
def test_load_one_split(tmp_path, split, n):
    directory = make_dataset_dir(tmp_path / "d", n_train=6, n_test=4)
    ds = load_dataset("mnist", data_dir=directory, split=split)
    assert ds.split == split and len(ds) == n


def test_mixed_gz_and_plain(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    write_idx(directory / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)), gz=True)
    write_idx(directory / "t10k-labels-idx1-ubyte", np.array([1, 2, 3]), gz=False)
    assert load_dataset("mnist", data_dir=directory, split="test").labels.tolist() == [1, 2, 3]


def test_fashion_class_names_and_to(tmp_path):
    ds = load_dataset("fashion-mnist", data_dir=make_dataset_dir(tmp_path / "f"))
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert ds.describe().startswith("Fashion-MNIST: 6 images")
    moved = ds.to("cpu")
    assert moved is not ds and moved.images.device.type == "cpu" and len(moved) == len(ds)


def test_read_60000_images(tmp_path):
    path = write_idx(tmp_path / "big", np.zeros((60_000, 28, 28), dtype=np.uint8))
    images = read_idx(path)
    assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8


def test_read_idx_result_is_writable(tmp_path):
    """torch.from_numpy warns on read-only arrays; read_idx gives a writable one."""
    assert read_idx(write_idx(tmp_path / "x", np.arange(5))).flags.writeable


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "wrong magic"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00", "wrong magic"),
        (b"\x00\x00\x08\x00", "wrong magic"),
        (b"\x00\x00", "not an IDX file"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated"),
        (idx_bytes(np.zeros((2, 28, 28)))[:-10], "truncated"),
        (idx_bytes(np.zeros((2, 28, 28))) + b"junk", "not a valid IDX"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, content, problem):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=problem) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"this is not gzip at all", gzip.compress(idx_bytes(np.zeros((2, 28, 28))))[:-20]],
    ids=["garbage", "truncated-gzip"],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, content):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_bad_file_is_reported_by_load(tmp_path):
    directory = make_dataset_dir(tmp_path / "d", n_train=0)
    (directory / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(DatasetError, match="truncated") as err:
        load_dataset("mnist", data_dir=directory, split="test")
    assert "t10k-images-idx3-ubyte" in str(err.value)


def test_count_mismatch_names_both_files(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    write_idx(directory / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte", np.zeros(4))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=directory, split="test")
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "3 images" in message and "4 labels" in message


def test_wrong_image_size_and_label_range(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    write_idx(directory / "t10k-images-idx3-ubyte", np.zeros((2, 32, 32)))
    write_idx(directory / "t10k-labels-idx1-ubyte", np.zeros(2))
    with pytest.raises(DatasetError, match=r"\(N, 28, 28\)"):
        load_dataset("mnist", data_dir=directory, split="test")
    write_idx(directory / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte", np.array([3, 12]))
    with pytest.raises(DatasetError, match="0..9") as err:
        load_dataset("mnist", data_dir=directory, split="test")
    assert "t10k-labels-idx1-ubyte" in str(err.value)


def test_bad_split_name(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=make_dataset_dir(tmp_path / "d"), split="validation")
    assert "'validation'" in str(err.value) and "'train'" in str(err.value) and "'test'" in str(err.value)


def test_unknown_dataset():
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10")
    assert "cifar10" in str(err.value) and "mnist" in str(err.value) and "fashion-mnist" in str(err.value)
    with pytest.raises(DatasetError):
        find_dataset_dir("cifar10")


# ---------------------------------------------------------------------------------------------
# Where the files are searched
# ---------------------------------------------------------------------------------------------


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    assert data.cache_dir("mnist") == tmp_path / "cache" / "mnist"
    monkeypatch.delenv("GENAI_CACHE_DIR")
    assert data.cache_dir("fashion-mnist").parts[-3:] == (".cache", "genai", "fashion-mnist")


def test_search_order_explicit_then_env_then_cache(tmp_path, monkeypatch):
    explicit = make_dataset_dir(tmp_path / "explicit", n_train=1, n_test=0)
    env = make_dataset_dir(tmp_path / "env", n_train=2, n_test=0)
    cache = make_dataset_dir(data.cache_dir("mnist"), n_train=3, n_test=0)

    assert len(load_dataset("mnist", download=False)) == 3
    assert find_dataset_dir("mnist") == cache

    monkeypatch.setenv("GENAI_DATA_DIR", str(env))
    assert len(load_dataset("mnist", download=False)) == 2
    assert find_dataset_dir("mnist") == env

    assert len(load_dataset("mnist", data_dir=explicit, download=False)) == 1
    assert find_dataset_dir("mnist", data_dir=explicit) == explicit


def test_system_dir_for_fashion(tmp_path):
    system = make_dataset_dir(data.SYSTEM_DIRS["fashion-mnist"][0])
    assert find_dataset_dir("fashion-mnist") == system
    assert find_dataset_dir("mnist") is None
    assert len(load_dataset("fashion-mnist", download=False)) == 6


def test_dataset_subfolder_of_data_dir(tmp_path):
    make_dataset_dir(tmp_path / "datasets" / "mnist", n_train=2, n_test=0)
    make_dataset_dir(tmp_path / "datasets" / "fashion-mnist", n_train=3, n_test=0)
    assert len(load_dataset("mnist", data_dir=tmp_path / "datasets")) == 2
    assert len(load_dataset("fashion-mnist", data_dir=tmp_path / "datasets")) == 3


def test_explicit_dir_without_split_fails_right_away(tmp_path):
    make_dataset_dir(data.cache_dir("mnist"))  # would be found if we silently fell back
    directory = tmp_path / "d"
    directory.mkdir()
    write_idx(directory / "train-labels-idx1-ubyte", np.zeros(3), gz=True)
    assert find_dataset_dir("mnist", data_dir=directory) is None
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=directory)
    message = str(err.value)
    assert str(directory) in message
    assert "t10k-images-idx3-ubyte" in message  # what was expected
    assert "train-labels-idx1-ubyte.gz" in message  # what was found
    assert "GENAI_DATA_DIR" in message


def test_nothing_found_without_download(tmp_path):
    assert find_dataset_dir("mnist") is None
    with pytest.raises(DatasetError, match="GENAI_DATA_DIR"):
        load_dataset("mnist", download=False)


# ---------------------------------------------------------------------------------------------
# Downloading from a local HTTP server
# ---------------------------------------------------------------------------------------------


class Mirror:
    """A tiny HTTP server on 127.0.0.1 serving `files` ({name: bytes}).

    mode "ok" serves them, "404" answers Not Found, "die" sends half a file then hangs up.
    """

    def __init__(self, files, mode="ok"):
        mirror = self
        self.files, self.mode, self.requests = files, mode, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                if mirror.mode == "404" or name not in mirror.files:
                    self.send_error(404)
                    return
                body = mirror.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if mirror.mode == "ok" else body[: len(body) // 2])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fixture_gz(monkeypatch):
    """Four small .gz IDX files plus the MD5 table for them (patched into genai.data)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(6) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(4),
    }
    files = {f"{stem}.gz": gzip.compress(idx_bytes(a)) for stem, a in arrays.items()}
    md5 = {name: hashlib.md5(body).hexdigest() for name, body in files.items()}
    for dataset in data.DATASET_NAMES:
        monkeypatch.setitem(data.MD5, dataset, md5)
    return files


@pytest.fixture
def start_mirror():
    mirrors = []

    def start(files, mode="ok"):
        mirrors.append(Mirror(files, mode))
        return mirrors[-1]

    yield start
    for mirror in mirrors:
        mirror.close()


def test_download_lands_in_cache(fixture_gz, start_mirror):
    mirror = start_mirror(fixture_gz)
    lines = []
    directory = download_dataset("mnist", mirrors=[mirror.url], progress=lines.append)
    assert directory == data.cache_dir("mnist")
    assert md5_of_tree(directory) == data.MD5["mnist"]  # exactly the four files, no temp left
    assert len(lines) >= 4 and all(isinstance(line, str) for line in lines)

    # A second call finds the files already there with the right MD5: no request at all.
    mirror.requests.clear()
    download_dataset("mnist", mirrors=[mirror.url], progress=lines.append)
    assert mirror.requests == []


def test_load_dataset_downloads_when_missing(fixture_gz, start_mirror, monkeypatch, capsys):
    mirror = start_mirror(fixture_gz)
    monkeypatch.setitem(data.MIRRORS, "fashion-mnist", (mirror.url,))
    ds = load_dataset("fashion-mnist")
    assert len(ds) == 6 and ds.split == "train"
    assert ds.directory == data.cache_dir("fashion-mnist").resolve()
    assert "Downloading" in capsys.readouterr().out  # default progress prints one line per file


def test_wrong_checksum_raises_and_leaves_nothing(fixture_gz, start_mirror, monkeypatch):
    wrong = "0" * 32
    monkeypatch.setitem(data.MD5, "mnist", {**data.MD5["mnist"], "t10k-images-idx3-ubyte.gz": wrong})
    mirror = start_mirror(fixture_gz)
    with pytest.raises(DatasetError) as err:
        download_dataset("mnist", mirrors=[mirror.url], progress=lambda line: None)
    message = str(err.value)
    got = hashlib.md5(fixture_gz["t10k-images-idx3-ubyte.gz"]).hexdigest()
    assert "t10k-images-idx3-ubyte.gz" in message and wrong in message and got in message
    leftovers = [p.name for p in data.cache_dir("mnist").iterdir()]
    assert "t10k-images-idx3-ubyte.gz" not in leftovers
    assert not [name for name in leftovers if name.startswith(".") or name.endswith(".part")]


@pytest.mark.parametrize("mode", ["404", "die"])
def test_broken_mirror_moves_on_to_the_next(fixture_gz, start_mirror, mode):
    broken = start_mirror(fixture_gz, mode)
    good = start_mirror(fixture_gz)
    directory = download_dataset("mnist", mirrors=[broken.url, good.url], progress=lambda line: None)
    assert md5_of_tree(directory) == data.MD5["mnist"]
    assert len(broken.requests) == 4 and len(good.requests) == 4


def test_interrupted_download_leaves_no_temp_file(fixture_gz, monkeypatch):
    class Response:
        """Yields one chunk, then the user presses Ctrl-C."""

        headers = {}
        chunks = [b"x" * 100]

        def read(self, size):
            if self.chunks:
                return self.chunks.pop()
            raise KeyboardInterrupt

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: Response())
    with pytest.raises(KeyboardInterrupt):
        download_dataset("mnist", mirrors=["http://example.invalid/"], progress=lambda line: None)
    assert list(data.cache_dir("mnist").iterdir()) == []


def test_download_failure_on_every_mirror(fixture_gz, start_mirror):
    mirror = start_mirror(fixture_gz, "404")
    with pytest.raises(DatasetError, match="any mirror") as err:
        download_dataset("mnist", mirrors=[mirror.url], progress=lambda line: None)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


@pytest.mark.parametrize("name", data.DATASET_NAMES)
def test_offline_with_nothing_gives_one_clear_message(name, tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset(name)  # mirrors point at a closed localhost port (see `isolated`)
    message = str(err.value)
    for stem in FILES:
        assert stem in message
    assert str(data.cache_dir(name)) in message
    assert "set GENAI_DATA_DIR=/path/to/dir (or pass --data-dir)" in message
    assert "127.0.0.1" in message  # the mirror that was tried
    if name == "fashion-mnist":
        assert "dataset-fashion-mnist" in message
        assert str(data.SYSTEM_DIRS[name][0]) in message
    # Nothing half-downloaded is left in the cache.
    cache = data.cache_dir(name)
    assert not cache.exists() or list(cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Untrusted files: forged headers and gzip bombs are refused before they cost time or memory
# ---------------------------------------------------------------------------------------------


def gzip_stream(*parts, zeros=0) -> bytes:
    """gzip of the bytes ``parts`` followed by ``zeros`` zero bytes (compressed 1 MiB at a time)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(part) for part in parts]
    block = bytes(2**20)
    for _ in range(zeros // len(block)):
        out.append(compressor.compress(block))
    out.append(compressor.flush())
    return b"".join(out)


def header(*dims, ndim=None) -> bytes:
    """An IDX header for unsigned bytes declaring ``dims``."""
    return bytes([0, 0, 0x08, len(dims) if ndim is None else ndim]) + struct.pack(f">{len(dims)}I", *dims)


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    """A valid header declaring 784,000 bytes, then 128 MiB of zeros in a ~130 kB .gz file."""
    declared = (1000, 28, 28)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip_stream(header(*declared), zeros=128 * 2**20))
    assert path.stat().st_size < 1_000_000

    produced = []  # every byte read from the (inflating) stream goes through _read_at_most
    real_read_at_most = data._read_at_most
    monkeypatch.setattr(data, "_read_at_most", lambda stream, count: produced.append(
        len(chunk := real_read_at_most(stream, count))) or chunk)

    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="not a valid IDX file") as err:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(produced) <= 4 + 12 + 1000 * 28 * 28 + 1  # header + declared data + one byte, no more
    assert peak < 20 * 2**20  # bytes held, not the 128 MiB the stream would inflate to
    assert path.name in str(err.value) and "784,000 bytes" in str(err.value)


@pytest.mark.parametrize("gz", [False, True])
def test_a_header_with_huge_dims_gives_a_clear_error(tmp_path, gz):
    """2^31 x 2^31 x 4 bytes overflows 64-bit arithmetic: Python ints and the cap refuse it."""
    content = header(2**31, 2**31, 4) + b"\x00" * 100
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DatasetError, match="too big") as err:
        read_idx(path)
    message = str(err.value)
    assert path.name in message and "(2147483648, 2147483648, 4)" in message
    assert f"{data.MAX_IDX_DATA:,} bytes allowed" in message
    with pytest.raises(DatasetError, match="too big"):
        data.parse_idx(content, path)  # bytes already in memory are checked the same way


def test_a_header_with_too_many_dims_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(header(*[2**32 - 1] * 255))
    with pytest.raises(DatasetError, match="declares 255 dimensions") as err:
        read_idx(path)
    assert path.name in str(err.value) and len(str(err.value)) < 500


def test_a_declared_size_above_the_cap_is_refused_before_the_data_is_read(tmp_path):
    """Refused as too big, not as truncated: the data after the header is never looked at."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header(100_000, 28, 28) + b"\x00" * 10)  # 78,400,000 bytes > 64 MiB
    with pytest.raises(DatasetError, match="too big") as err:
        read_idx(path)
    assert "78,400,000 bytes" in str(err.value)
    # The cap itself is allowed: the same header style at exactly MAX_IDX_DATA is only truncated.
    path.write_bytes(header(data.MAX_IDX_DATA) + b"\x00" * 10)
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(path)
    path.write_bytes(header(data.MAX_IDX_DATA + 1) + b"\x00" * 10)
    with pytest.raises(DatasetError, match="too big"):
        read_idx(path)


def test_the_largest_real_file_is_under_the_cap():
    assert 60_000 * 28 * 28 < data.MAX_IDX_DATA


@pytest.mark.parametrize(
    "content, problem",
    [
        (idx_bytes(np.zeros((2, 28, 28))) + b"junk", "not a valid IDX"),
        (idx_bytes(np.zeros((2, 28, 28)))[:-10], "truncated"),
        (header(2, 28)[:6], "truncated"),
    ],
    ids=["trailing-junk", "truncated-data", "truncated-header"],
)
def test_a_gzipped_file_of_the_wrong_size_is_refused(tmp_path, content, problem):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(DatasetError, match=problem) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_read_errors_have_a_wording_without_the_folder(tmp_path):
    """The CLI message names the path; error.public (the web app's) names the file only."""
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((2, 28, 28)))[:-10])
    with pytest.raises(DatasetError) as err:
        read_idx(path)
    assert str(path) in str(err.value)
    assert err.value.public.startswith("t10k-images-idx3-ubyte is truncated") and str(tmp_path) not in err.value.public


# ---------------------------------------------------------------------------------------------
# The web app's dataset cache (genai/ui/datasets.py)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def app_datasets(monkeypatch):
    """genai.ui.datasets with an empty cache (imports gradio: skipped where it is missing)."""
    datasets = pytest.importorskip("genai.ui.datasets")
    monkeypatch.setattr(datasets, "_cache", {})
    return datasets


@pytest.fixture
def count_reads(monkeypatch):
    """A list that grows by one file name each time genai.data reads a file."""
    reads = []
    real_read_raw = data.read_raw

    def read_raw(path):
        reads.append(path.name)
        return real_read_raw(path)

    monkeypatch.setattr(data, "read_raw", read_raw)
    return reads


def test_a_failed_load_is_remembered_until_the_files_change(tmp_path, monkeypatch, app_datasets, count_reads):
    directory = make_dataset_dir(tmp_path / "d", n_train=6, n_test=0)
    bad = directory / "train-images-idx3-ubyte"
    bad.write_bytes(header(6, 28, 28) + b"\x00" * 100)  # truncated
    monkeypatch.setenv("GENAI_DATA_DIR", str(directory))

    with pytest.raises(DatasetError, match="truncated") as first:
        app_datasets.get("mnist", download=False)
    reads = len(count_reads)
    assert reads >= 1
    with pytest.raises(DatasetError) as second:
        app_datasets.get("mnist", download=False)
    assert "No images found" in app_datasets.status("mnist") and "truncated" in app_datasets.status("mnist")
    assert len(count_reads) == reads  # answered from the cache, no file read again
    assert str(second.value) == str(first.value)

    write_split(directory, "train", 6)  # the file is fixed: new size and mtime
    assert len(app_datasets.get("mnist", download=False)) == 6
    reads = len(count_reads)
    assert len(app_datasets.get("mnist")) == 6 and len(count_reads) == reads  # success is remembered too


def test_a_remembered_not_found_does_not_stop_a_download(tmp_path, monkeypatch, app_datasets):
    """Page opens check without downloading; Start may download, so it tries again."""
    downloads = []

    def download_dataset(name):
        downloads.append(name)
        raise DatasetError("offline")

    monkeypatch.setattr(data, "download_dataset", download_dataset)
    with pytest.raises(data.DatasetNotFound):
        app_datasets.get("mnist", download=False)
    with pytest.raises(data.DatasetNotFound):
        app_datasets.get("mnist", download=False)
    assert downloads == []
    with pytest.raises(DatasetError, match="Downloading failed: offline"):
        app_datasets.get("mnist", download=True)
    with pytest.raises(DatasetError, match="Downloading failed: offline"):
        app_datasets.get("mnist", download=True)
    assert downloads == ["mnist", "mnist"]  # a failed download is tried again (the network may be back)


def test_the_app_shows_no_server_paths_or_folder_listings(tmp_path, monkeypatch, app_datasets):
    secret = tmp_path / "srv" / "private-data"
    make_dataset_dir(secret, n_train=6, n_test=0)
    (secret / "notes-of-the-admin.txt").write_text("x")
    (secret / "train-images-idx3-ubyte").write_bytes(header(2**31, 2**31, 4))
    monkeypatch.setenv("GENAI_DATA_DIR", str(secret))

    bad_file = app_datasets.status("mnist")
    assert "train-images-idx3-ubyte is too big" in bad_file
    for text in (str(tmp_path), "private-data"):
        assert text not in bad_file

    for path in secret.iterdir():
        path.unlink()
    (secret / "notes-of-the-admin.txt").write_text("x")
    missing = app_datasets.status("mnist")
    assert "Cannot find the train split of MNIST" in missing and "train-images-idx3-ubyte" in missing
    assert "GENAI_DATA_DIR" in missing
    for text in (str(tmp_path), "private-data", "notes-of-the-admin", "it holds"):
        assert text not in missing
    # The CLI's message keeps the folder and what it holds: that is the user's own machine.
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", download=False)
    assert str(secret) in str(err.value) and "notes-of-the-admin.txt" in str(err.value)

    make_dataset_dir(secret, n_train=6, n_test=0)
    found = app_datasets.status("mnist")
    assert "6 images to learn from" in found and str(tmp_path) not in found


@pytest.mark.parametrize("name", data.DATASET_NAMES)
def test_the_app_names_the_default_places_without_their_paths(name, app_datasets):
    missing = app_datasets.status(name)
    assert "Searched: the download cache" in missing
    assert str(data.cache_dir(name)) not in missing and "/usr/share" not in missing
    with pytest.raises(DatasetError) as err:
        app_datasets.get(name, download=True)  # the mirrors are a closed localhost port
    assert "Downloading failed" in str(err.value) and str(data.cache_dir(name)) not in str(err.value)
