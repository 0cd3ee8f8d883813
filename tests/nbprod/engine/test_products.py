"""nbprod.products: the ploomber File client over the store (folder, memory://, S3 server)."""

from __future__ import annotations

import json
import pickle
import time
import uuid
from pathlib import Path

import pytest
import yaml

from nbprod.errors import NbprodError, StoreError
from nbprod.products import ProductClient, client
from nbprod.store import Store

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["local", "memory", "s3"])
def url(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3")
        return f"s3://nbprod-test/team-{uuid.uuid4().hex[:8]}"
    if request.param == "memory":
        request.getfixturevalue("memory_fs")
        return f"memory://nbprod-products-{uuid.uuid4().hex}"
    return str(tmp_path / "store")


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pipeline.yaml").write_text("tasks: []\n")
    return root


@pytest.fixture
def products(url, project) -> ProductClient:
    return ProductClient(Store(url), project)


def product(root: Path, rel: str, data: bytes, meta: dict | None = None) -> Path:
    """A product file and, like ploomber, its ``.<name>.metadata`` beside it."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    metadata(path).write_text(json.dumps(meta or {"timestamp": 1.0, "stored_source_code": "x = 1"}))
    return path


def metadata(path: Path) -> Path:
    return path.with_name(f".{path.name}.metadata")


def upload(c: ProductClient, path: Path) -> None:
    """What ploomber's File.upload does (products/file.py:185-186): metadata, then product."""
    c.upload(metadata(path))
    c.upload(path)


def download(c: ProductClient, path: Path) -> None:
    """What ploomber's File.download does (products/file.py:165-166): product, then metadata."""
    c.download(str(path))
    c.download(str(metadata(path)))


def stored(c: ProductClient) -> list[str]:
    fs, root = c.store.fs, c.store.root
    base = f"{root}/products"
    if not fs.exists(base):
        return []
    return sorted(p[len(root) + 1 :] for p in fs.find(base))


# -- round trip ------------------------------------------------------------------


def test_upload_download_round_trip(products, project):
    data = bytes(range(256)) * 100
    path = product(project, "outputs/data/penguins.parquet", data)
    meta_bytes = metadata(path).read_bytes()
    assert not products._remote_exists(path) and not products._remote_exists(metadata(path))

    upload(products, path)
    assert stored(products) == [
        "products/outputs/data/.penguins.parquet.metadata",
        "products/outputs/data/penguins.parquet",
    ]
    assert products._remote_exists(path) and products._remote_exists(metadata(path))

    path.unlink()
    metadata(path).unlink()
    download(products, path)
    assert path.read_bytes() == data
    assert metadata(path).read_bytes() == meta_bytes
    assert sorted(p.name for p in path.parent.iterdir()) == [".penguins.parquet.metadata", "penguins.parquet"]


def test_metadata_download_to_destination_as_ploomber_checks_status(products, project):
    """_RemoteFile fetches remote metadata alone, to a side file (products/_remotefile.py:34)."""
    path = product(project, "outputs/model.joblib", b"model")
    upload(products, path)
    side = path.with_name(".model.joblib.metadata.remote")
    products.download(metadata(path), destination=side)
    assert side.read_bytes() == metadata(path).read_bytes()


def test_relative_paths_are_relative_to_the_working_directory(products, project, monkeypatch):
    product(project, "outputs/a.txt", b"a")
    monkeypatch.chdir(project / "outputs")
    upload(products, Path("a.txt"))
    assert products.key("a.txt") == "products/outputs/a.txt"
    assert products._remote_exists("a.txt")


def test_directory_product_round_trip_replaces_stale_files(products, project):
    folder = project / "outputs" / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"A")
    (folder / "sub" / "b c.png").write_bytes(b"B")
    (folder / "old.png").write_bytes(b"old")
    metadata(folder).write_text("{}")
    upload(products, folder)
    assert products._remote_exists(folder)

    (folder / "old.png").unlink()  # the folder shrinks: the remote copy must too
    upload(products, folder)

    import shutil

    shutil.rmtree(folder)
    (folder / "stale").mkdir(parents=True)  # a local leftover is replaced, not merged
    download(products, folder)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == ["a.png", "sub/b c.png"]
    assert (folder / "sub" / "b c.png").read_bytes() == b"B"


def test_reupload_replaces_the_pair(products, project):
    path = product(project, "outputs/m.json", b"1", {"timestamp": 1.0})
    upload(products, path)
    path.write_bytes(b"2")
    metadata(path).write_text(json.dumps({"timestamp": 2.0}))
    upload(products, path)
    path.unlink()
    metadata(path).unlink()
    download(products, path)
    assert path.read_bytes() == b"2" and json.loads(metadata(path).read_text()) == {"timestamp": 2.0}


# -- the metadata is the commit marker ------------------------------------------------


def test_metadata_is_visible_only_after_its_product(products, project):
    path = product(project, "outputs/data.csv", b"new", {"timestamp": 1.0})
    products.upload(metadata(path))  # ploomber sends the metadata first
    assert not products._remote_exists(metadata(path)), "metadata published before its product"
    assert not products._remote_exists(path)
    products.upload(path)
    assert products._remote_exists(metadata(path)) and products._remote_exists(path)


def test_reupload_hides_the_old_metadata_while_the_product_is_written(products, project):
    path = product(project, "outputs/data.csv", b"old", {"timestamp": 1.0})
    upload(products, path)
    metadata(path).write_text(json.dumps({"timestamp": 2.0}))
    path.write_bytes(b"new")
    products.upload(metadata(path))
    # in between, the old metadata must not describe a product that is being replaced
    assert not products._remote_exists(metadata(path))


def test_failed_upload_leaves_no_visible_object(products, project, monkeypatch):
    """The write fails (after a folder store wrote its temp object): no object under
    the final key, no temp object, and no metadata, so another machine runs the task
    instead of fetching it."""
    path = product(project, "outputs/data/big.parquet", b"x" * 100_000)
    store = products.store
    name = "put_file" if store.local or store.bucket else "pipe_file"
    real = getattr(store.fs, name)

    def broken(src, dst, *args, **kwargs):
        if store.local:
            real(src, dst, *args, **kwargs)  # the temp object is fully written...
        raise ConnectionResetError("connection reset by peer")  # ...then the write fails

    monkeypatch.setattr(store.fs, name, broken)
    with pytest.raises(StoreError) as err:
        upload(products, path)
    assert "\n" not in str(err.value) and store.url in str(err.value)
    monkeypatch.undo()
    assert stored(products) == []
    assert not products._remote_exists(path) and not products._remote_exists(metadata(path))


def test_failed_rename_in_a_folder_store_leaves_nothing(project, tmp_path, monkeypatch):
    products = ProductClient(Store(str(tmp_path / "store")), project)
    path = product(project, "outputs/a.csv", b"a")
    monkeypatch.setattr(products.store.fs, "mv", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(StoreError):
        upload(products, path)
    monkeypatch.undo()
    assert stored(products) == []


def test_failed_s3_put_publishes_nothing(s3, project, monkeypatch):
    """On S3 the product is one PUT: the request failing mid-body publishes nothing
    (a streamed fs.open(..., 'wb') would publish what it had on close)."""
    store = Store(f"s3://nbprod-test/put-{uuid.uuid4().hex[:8]}")
    products = ProductClient(store, project)
    path = product(project, "outputs/model.joblib", b"m" * 10_000)
    real = store.fs._call_s3

    async def drop(method, *args, **kwargs):
        if method in ("put_object", "upload_part", "complete_multipart_upload"):
            raise ConnectionResetError("connection reset by peer")
        return await real(method, *args, **kwargs)

    monkeypatch.setattr(store.fs, "_call_s3", drop)
    with pytest.raises(StoreError):
        upload(products, path)
    monkeypatch.undo()
    store.fs.invalidate_cache()
    assert stored(products) == []


def test_unpaired_upload_goes_beside_as_failed(products, project):
    """ploomber uploads a failed notebook's partial copy alone (tasks/notebook.py:836-840):
    it must not replace the last good notebook, whose metadata still describes it."""
    nb = product(project, "outputs/notebooks/train.ipynb", b"good")
    upload(products, nb)
    nb.write_bytes(b"partial")
    products.upload(str(nb))
    assert "products/outputs/notebooks/train.failed.ipynb" in stored(products)
    nb.unlink()
    metadata(nb).unlink()
    download(products, nb)
    assert nb.read_bytes() == b"good"


# -- downloads ---------------------------------------------------------------------


def test_failed_download_leaves_no_local_file(products, project, monkeypatch):
    path = product(project, "outputs/data.csv", b"y" * 50_000)
    upload(products, path)
    path.unlink()
    metadata(path).unlink()

    def broken(rpath, lpath, *args, **kwargs):
        Path(lpath).write_bytes(b"y" * 10)  # half of it arrived
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(products.store.fs, "get_file", broken)
    with pytest.raises(StoreError):
        products.download(path)
    assert list(path.parent.iterdir()) == []


def test_download_rereads_when_a_writer_replaces_the_pair_meanwhile(products, project, monkeypatch):
    path = product(project, "outputs/data.csv", b"old", {"timestamp": 1.0})
    upload(products, path)
    writer = ProductClient(Store(products.store.url), project)
    real_get = products._get
    calls = []

    def get_while_another_machine_uploads(key, dest):
        real_get(key, dest)
        if not calls:  # the other machine replaces product and metadata right after our read
            replacement = project / "replacement.csv"
            replacement.write_bytes(b"new")
            writer._put(replacement, key)
            writer.store.write_key(writer.key(metadata(path)), json.dumps({"timestamp": 2.0}).encode())
        calls.append(key)

    monkeypatch.setattr(products, "_get", get_while_another_machine_uploads)
    download(products, path)
    assert len(calls) == 2
    assert path.read_bytes() == b"new" and json.loads(metadata(path).read_text()) == {"timestamp": 2.0}


def test_download_of_a_missing_product_is_one_line(products, project):
    with pytest.raises(StoreError) as err:
        products.download(project / "outputs" / "nothing.csv")
    assert "\n" not in str(err.value) and "products/outputs/nothing.csv" in str(err.value)


# -- keys: nothing escapes the prefix -------------------------------------------------


@pytest.mark.parametrize("hostile", ["../outside.csv", "outputs/../../outside.csv", "/etc/passwd", "."])
def test_paths_outside_the_project_root_are_refused(products, project, monkeypatch, hostile):
    monkeypatch.chdir(project)
    for call in (products.key, products._remote_exists, products.upload, products.download):
        with pytest.raises(StoreError) as err:
            call(hostile)
        assert "outside the project root" in str(err.value) and "\n" not in str(err.value)
    assert stored(products) == []


@pytest.mark.parametrize(
    "name", ["a b#?&.csv", "%2e%2e", "..%2Fescape", "x%00y", "ünïcødé.csv", "back\\..\\slash", "...", "~"]
)
def test_odd_names_stay_one_segment_under_the_prefix(products, project, name):
    path = product(project, f"outputs/{name}", name.encode())
    key = products.key(path)
    assert key.startswith("products/outputs/") and key.count("/") == 2
    upload(products, path)
    assert all(k.startswith("products/outputs/") and k.count("/") == 2 for k in stored(products))
    path.unlink()
    download(products, path)
    assert path.read_bytes() == name.encode()


# -- errors, factory ------------------------------------------------------------------


def test_missing_bucket_is_a_one_line_store_error(s3, project):
    products = ProductClient(Store("s3://no-such-bucket/x"), project)
    with pytest.raises(StoreError) as err:
        products._remote_exists(project / "outputs" / "a.csv")
    assert "no-such-bucket" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, NbprodError)


def test_factory_uses_nbprod_store_and_pickles(s3, project, monkeypatch):
    monkeypatch.setenv("NBPROD_STORE", "s3://nbprod-test/shared")
    c = client(root=str(project))
    assert c.store.url == "s3://nbprod-test/shared" and c.root == project.resolve()
    assert repr(c) == "ProductClient('s3://nbprod-test/shared/products')"
    path = product(project, "outputs/a.csv", b"a")
    upload(c, path)
    copy = pickle.loads(pickle.dumps(c))  # ploomber pickles tasks (and their DAG) for subprocesses
    assert copy._remote_exists(path)


def test_factory_defaults_to_the_pipeline_folder(project, monkeypatch, tmp_path):
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    (project / "outputs").mkdir()
    monkeypatch.chdir(project / "outputs")
    assert client().root == project.resolve()


def test_shared_entry_point_is_pipeline_yaml_plus_the_client():
    plain = yaml.safe_load((REPO / "pipeline.yaml").read_text())
    shared = yaml.safe_load((REPO / "pipeline.shared.yaml").read_text())
    clients = shared.pop("clients")
    assert shared == plain, "pipeline.shared.yaml drifted from pipeline.yaml"
    assert clients == {"File": {"dotted_path": "nbprod.products.client", "root": "{{here}}"}}


# -- through ploomber itself (no kernels): a second machine fetches, runs nothing ------------

A_RUNS = []


def make_a(product):
    A_RUNS.append(product)
    Path(str(product)).write_text("a")


def make_b(product, upstream):
    Path(str(product)).write_text(Path(str(upstream["a"])).read_text() + "b")


def _dag(root: Path, store_url: str):
    from ploomber import DAG
    from ploomber.executors import Serial
    from ploomber.products import File
    from ploomber.tasks import PythonCallable

    dag = DAG(executor=Serial(build_in_subprocess=False))
    dag.clients[File] = ProductClient(Store(store_url), root)
    a = PythonCallable(make_a, File(root / "out" / "a.txt"), dag, name="a")
    b = PythonCallable(make_b, File(root / "out" / "b.txt"), dag, name="b")
    a >> b
    return dag


def test_second_machine_fetches_instead_of_running(s3, tmp_path):
    url = "s3://nbprod-test/dag"
    one, two = tmp_path / "one", tmp_path / "two"
    A_RUNS.clear()
    _dag(one, url).build(show_progress=False)
    assert len(A_RUNS) == 1

    dag = _dag(two, url)
    dag.render(show_progress=False)
    assert {n: dag[n].exec_status.name for n in dag} == {"a": "WaitingDownload", "b": "WaitingDownload"}
    dag["b"].build(force=True)  # `ploomber task b --force`: fetch upstream a, run b
    assert len(A_RUNS) == 1, "a was up to date remotely and must not run again"
    assert (two / "out" / "a.txt").read_text() == "a" and (two / "out" / "b.txt").read_text() == "ab"


# -- by content: nothing stored twice, verified on the way back ---------------------------


def objects(c: ProductClient) -> list[str]:
    return sorted(row["key"] for row in c.store.list_keys("objects"))


def test_products_are_stored_by_content_once(products, project):
    data = b"species,mass\nAdelie,3700\n"
    path = product(project, "outputs/a.csv", data)
    upload(products, path)
    same = product(project, "outputs/copy.csv", data)  # another product, the same bytes
    upload(products, same)
    upload(products, path)  # the task ran again and made the same bytes
    assert objects(products) == [Store.object_key(products.store.put_bytes(data)["sha256"])]
    pointer = json.loads(products.store.read_key("products/outputs/a.csv"))
    assert pointer["sha256"] == products.store.put_bytes(data)["sha256"] and pointer["size"] == len(data)
    path.write_bytes(b"changed")
    upload(products, path)
    assert len(objects(products)) == 2  # only the changed bytes are new


def test_a_corrupt_object_is_not_downloaded(products, project):
    from nbprod.errors import IntegrityError

    path = product(project, "outputs/model.bin", b"the model")
    upload(products, path)
    (key,) = objects(products)
    products.store.write_key(key, b"bit rot!!")
    path.write_bytes(b"local copy")
    with pytest.raises(IntegrityError, match="corrupt"):
        products.download(str(path))
    assert path.read_bytes() == b"local copy"  # untouched
    assert objects(products) == []  # moved to quarantine/; the next upload stores it again


def test_gc_keeps_objects_named_by_product_pointers(products, project):
    from nbprod.store import maintenance

    path = product(project, "outputs/a.csv", b"shared product")
    upload(products, path)
    folder = project / "outputs" / "plots"
    folder.mkdir()
    (folder / "p.png").write_bytes(b"png")
    products.upload(folder)  # no metadata: stored as a failed task's output, still a pointer
    orphan = products.store.put_bytes(b"nobody points here")
    found = maintenance.garbage(products.store, grace_s=0, now=time.time() + 60)
    assert [c["key"] for c in found.candidates] == [orphan["key"]]


# -- what the shared copy holds: the same as the recorded one ---------------------------------------


def test_a_shared_notebook_has_its_data_frame_scraps_redacted_and_its_outputs_cut(products, project, monkeypatch):
    import base64
    import io

    import nbformat
    import pandas as pd
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    secret = "tok-" + "s3cr3t" * 6
    monkeypatch.setenv("NBPROD_TEST_SHARED_TOKEN", secret)
    monkeypatch.setenv("NBPROD_MAX_OUTPUT_MB", "1")
    buf = io.BytesIO()
    pd.DataFrame({"token": [secret]}).to_parquet(buf)
    payload = {"name": "frame", "data": base64.b64encode(buf.getvalue()).decode(), "encoder": "pandas", "version": 1}
    nb = new_notebook(cells=[new_code_cell("glue", outputs=[
        new_output("display_data", data={"application/scrapbook.scrap.pandas+json": payload}),
        new_output("stream", name="stdout", text="x" * (3 * 1024 * 1024)),
    ])])
    path = project / "outputs" / "nb.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))
    metadata(path).write_text(json.dumps({"timestamp": 1.0, "stored_source_code": "x = 1"}))
    upload(products, path)
    pointer = json.loads(products.store.read_key("products/outputs/nb.ipynb"))
    shared = products.store.get_bytes(pointer["sha256"]).decode()
    assert len(shared) < 1.5 * 1024 * 1024  # cut
    frame = pd.read_parquet(io.BytesIO(base64.b64decode(
        json.loads(shared)["cells"][0]["outputs"][0]["data"]["application/scrapbook.scrap.pandas+json"]["data"])))
    assert list(frame["token"]) == ["[redacted:NBPROD_TEST_SHARED_TOKEN]"]
    assert pointer["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()  # local == shared
