"""A secret printed by a notebook is absent from every file nbprod writes.

A small real project (real kernels, real ``nbprod build`` / ``ploomber build``
subprocesses) whose notebook reads two credentials from the environment,
prints them, glues them with scrapbook (inline and as a large artifact),
writes one into a text product, and, in a failing run, raises an exception
whose message holds it. Afterwards no file in the store, the spool or the
project, and no line the commands printed, holds either value in any form;
the placeholder ``[redacted:NAME]`` is there instead, so the test cannot pass
by recording nothing.
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """on_render: nbprod.hooks.on_render
on_finish: nbprod.hooks.on_finish
on_failure: nbprod.hooks.on_failure
tasks:
  - source: leak.ipynb
    product: {nb: outputs/leak.ipynb, data: outputs/leak.txt}
    params: {mode: '{{mode}}'}
"""

API = "NBPROD_TEST_API_KEY"
PASSWORD = "NBPROD_TEST_DB_PASSWORD"


@pytest.fixture
def secret_env():
    # the password holds a quote and a backslash: inside .ipynb/JSON it appears escaped
    return {API: secrets.token_hex(16), PASSWORD: f'pw"{secrets.token_hex(8)}\\end'}


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    write_notebook(
        root / "leak.ipynb",
        "upstream = None\nproduct = None\nmode = 'ok'",
        "import os\nimport scrapbook as sb\n"
        f"value = os.environ[{API!r}]\npassword = os.environ[{PASSWORD!r}]\n"
        "print('the key is', value, 'and the password', password)\n"
        "sb.glue('leak', value)\nsb.glue('nested', {'password': password, 'keys': [value]})\n"
        "sb.glue('big', ' '.join([value] * 400))\n"
        # a data frame scrap is base64 parquet inside the notebook: text redaction cannot see it
        "import pandas as pd\nsb.glue('frame', pd.DataFrame({'token': [value, 'plain'], value: [1, 2]}))\n"
        "open(product['data'], 'w').write(f'key={value}\\n')\n"
        "value",
        "if mode == 'raise':\n    raise RuntimeError(f'could not connect with {value} / {password}')",
    )
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("mode: ok\n")
    return root


def forms(value: str) -> set[str]:
    return {value, json.dumps(value)[1:-1], quote(value, safe=""), value.replace('"', "&quot;")}


def leaks(secret_env, text: str) -> list[str]:
    return [f"{name} as {form!r}" for name, value in secret_env.items() for form in forms(value) if form in text]


def files_holding(secret_env, *folders: Path) -> dict[str, list[str]]:
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and ".git" not in path.relative_to(folder).parts:
                text = path.read_bytes().decode("utf-8", "replace")
                hit = leaks(secret_env, text + decoded_frames(text))
                if hit:
                    found[str(path)] = hit
    return found


def decoded_frames(text: str) -> str:
    """The data frames glued in a notebook (base64 parquet), decoded, as text."""
    import base64
    import io

    import pandas as pd

    if "scrapbook.scrap.pandas" not in text:
        return ""
    frames = []
    for cell in json.loads(text).get("cells", []):
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get("application/scrapbook.scrap.pandas+json")
            if payload:
                frame = pd.read_parquet(io.BytesIO(base64.b64decode(payload["data"])))
                frames.append(repr(frame.to_dict()) + repr(list(frame.columns)))
    assert frames, "the notebook glued a data frame"
    return "\n".join(frames)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_secret_printed_by_a_notebook_is_absent_from_every_file_written(
    project, shell_factory, store, secret_env, tmp_path
):
    sh = shell_factory(project)
    env = {**secret_env, "NBPROD_INLINE_MAX": 1000}
    spool = store.parent / "spool"
    outputs = []

    def run(*args, **extra):
        done = sh(*args, check=False, **env, **extra)
        outputs.append((args, done.stdout + done.stderr))
        return done

    ok = run("nbprod", "build")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed_ploomber = run("ploomber", "build", "--env--mode", "raise", "--force")
    assert failed_ploomber.returncode != 0
    failed_nbprod = run("nbprod", "build", "--env--mode", "raise", "--force")
    assert failed_nbprod.returncode == 1
    last = [l for l in failed_nbprod.stderr.splitlines() if l.strip()][-1]
    assert "RuntimeError: could not connect with [redacted:NBPROD_TEST_API_KEY]" in last, last
    # the store is down: the run goes to the local spool, through the same recorder
    spooled = run(
        "nbprod", "build", "--force",
        NBPROD_STORE="s3://nbprod-test/runs", NBPROD_STORE_TIMEOUT=2,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        AWS_ACCESS_KEY_ID="dummy-key-id", AWS_SECRET_ACCESS_KEY="dummy-secret-key",
    )
    assert spooled.returncode == 0 and "kept in the local spool" in spooled.stderr, spooled.stderr
    assert any(spool.rglob("record.json"))

    shows = [run("nbprod", "runs", "show", r["run_id"], "--json") for r in sh.runs()]
    assert len(shows) == 3

    # nothing written or printed holds a secret, in any form
    assert files_holding(secret_env, store, spool, project) == {}
    assert {" ".join(args): leaks(secret_env, text) for args, text in outputs if leaks(secret_env, text)} == {}

    # ... and the placeholders are there: the values were captured, then redacted
    records = {r["status"]: r for r in (json.loads(s.stdout) for s in shows)}
    good, bad = records["succeeded"]["tasks"][0], records["failed"]["tasks"][0]
    assert good["scraps"]["leak"]["value"] == f"[redacted:{API}]"
    assert good["scraps"]["nested"]["value"] == {"password": f"[redacted:{PASSWORD}]", "keys": [f"[redacted:{API}]"]}
    assert "artifact" in good["scraps"]["big"]
    assert bad["error"]["evalue"] == f"could not connect with [redacted:{API}] / [redacted:{PASSWORD}]"
    assert f"[redacted:{API}]" in bad["error"]["traceback"]
    assert records["failed"]["error"]["evalue"] == bad["error"]["evalue"]

    # the executed notebook: one redacted object, shared by the product and the notebook
    nb_product = next(p for p in good["products"] if p["name"] == "nb")
    assert good["notebook"]["sha256"] == nb_product["sha256"]
    def stored(sha256: str) -> Path:
        return store / "objects" / "sha256" / sha256[:2] / sha256[2:]

    text = stored(nb_product["sha256"]).read_text()
    assert f"the key is [redacted:{API}] and the password [redacted:{PASSWORD}]" in text
    assert f"'[redacted:{API}]'" in text  # the cell's result
    frames = decoded_frames(text)  # the glued data frame, decoded: redacted, still a frame
    assert f"[redacted:{API}]" in frames and "plain" in frames
    assert stored(good["scraps"]["big"]["artifact"]["sha256"]).read_text().count(f"[redacted:{API}]") == 400
    assert (project / "outputs" / "leak.txt").read_text() == f"key=[redacted:{API}]\n"
