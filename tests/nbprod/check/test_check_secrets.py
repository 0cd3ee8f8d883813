"""nbprod check: credentials in sources and outputs, found in the parsed notebook (not its
escaped JSON bytes), never printed, and base64 images left alone."""

from __future__ import annotations

import os

import pytest
from checkkit import cell, nbprod_check, notebook

from nbprod.check.run import check
from nbprod.redact import is_secret_name

AWS_ID = "AKIA" + "Z7Q3N5B2K8W4R6TY"  # the shape of an access key id, not a real one
KEY_BLOCK = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x0dummy\n-----END RSA PRIVATE KEY-----\n"
# a quote and a backslash: in the .ipynb file they are \" and \\, so grep for the value finds nothing
DB_PASSWORD = 'hunter2"and\\more'


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    for name in [n for n in os.environ if is_secret_name(n)]:
        monkeypatch.delenv(name)  # only this test's secrets
    return tmp_path


def secrets(*paths: str) -> list[str]:
    return [p.text() for p in check(list(paths)).problems if p.check == "secrets"]


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_an_environment_secret_in_an_output_is_found_in_the_parsed_notebook(here, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", DB_PASSWORD)
    path = notebook(here / "nb.ipynb", cell("import os\nprint(os.environ['DB_PASSWORD'])", id="leak",
                                            outputs=[stream(DB_PASSWORD + "\n")]))
    assert DB_PASSWORD not in path.read_text()  # what a scanner of the file's bytes would look for
    assert secrets("nb.ipynb") == ["nb.ipynb: cell 0 (id leak): error: the value of $DB_PASSWORD in an output"]


@pytest.mark.parametrize("source, found", [
    (f"key = '{AWS_ID}'", "line 1: an AWS access key id (AKIA...) in the source"),
    ("import os\nurl = 'https://api.example.com/v1/items?limit=5&access_token=ab12cd34ef56gh78'",
     "line 2: a token in a URL in the source"),
    ("engine = 'postgresql://etl:Xk9pq7Lm2@db.internal:5432/warehouse'", "line 1: a password in a URL in the source"),
    ("token = 'ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'", "line 1: a GitHub token in the source"),
])
def test_credential_shapes_in_a_source_are_errors_by_line(here, source, found):
    notebook(here / "nb.ipynb", "x = 1", cell(source, id="creds"))
    assert secrets("nb.ipynb") == [f"nb.ipynb: cell 1 (id creds): error: {found}"]


def test_a_private_key_printed_in_an_output_and_in_a_traceback(here):
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad key",
             "traceback": ["\x1b[0;31mValueError\x1b[0m: " + KEY_BLOCK]}
    notebook(here / "nb.ipynb", cell("print(key)", id="printed", outputs=[stream(KEY_BLOCK)]),
             cell("raise ValueError(key)", id="raised", outputs=[error]))
    assert secrets("nb.ipynb") == [
        "nb.ipynb: cell 0 (id printed): error: a private key block in an output",
        "nb.ipynb: cell 1 (id raised): error: a private key block in an error output",
    ]


def test_placeholders_and_examples_are_not_credentials(here):
    notebook(here / "nb.ipynb", "\n".join([
        "url = 'postgresql://etl:${DB_PASSWORD}@db/warehouse'",
        "doc = 'postgresql://user:password@localhost/db'",
        "tmpl = 'https://host/path?token=<your-token-here>'",
        "aws_docs = 'AKIAIOSFODNN7EXAMPLE'",
        "short = 'https://host/?key=abc'",
    ]))
    assert secrets("nb.ipynb") == []


def test_base64_images_and_attachments_are_not_searched(here):
    png = "iVBORw0KGgoAAAANSUhEUg/" + AWS_ID + "/AAAAAElFTkSuQmCC"  # base64 that happens to hold the shape
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<Figure>"}}
    notes = cell("![chart](attachment:chart.png)", kind="markdown", id="notes")
    notes["attachments"] = {"chart.png": {"image/png": png}}
    notebook(here / "nb.ipynb", cell("plot()", id="plot", outputs=[image]), notes)
    assert secrets("nb.ipynb") == []
    svg = {"output_type": "display_data", "metadata": {},
           "data": {"image/svg+xml": f"<svg><text>{AWS_ID}</text></svg>"}}
    notebook(here / "nb.ipynb", cell("plot()", id="plot", outputs=[svg]))
    assert secrets("nb.ipynb") == ["nb.ipynb: cell 0 (id plot): error: an AWS access key id (AKIA...) in an output"]


def test_papermill_parameters_in_the_notebooks_metadata_are_searched(here):
    notebook(here / "nb.ipynb", "x = 1", papermill={"parameters": {"url": "s3://bucket/?X-Amz-Signature=f00dfeed1234"}})
    assert secrets("nb.ipynb") == ["nb.ipynb: error: a token in a URL in the notebook's metadata"]


def test_yaml_files_are_searched_by_line(here, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "tok-9f8e7d6c5b4a")
    (here / "env.yaml").write_text(f"seed: 42\nsource: s3://data/x.csv\naws_id: {AWS_ID}\ntoken: tok-9f8e7d6c5b4a\n")
    assert secrets("env.yaml") == ["env.yaml: line 3: error: an AWS access key id (AKIA...) in the file",
                                   "env.yaml: line 4: error: the value of $API_TOKEN in the file"]


def test_the_command_never_prints_a_secret(here):
    notebook(here / "nb.ipynb", cell("print(token)", id="leak", outputs=[stream("tok-9f8e7d6c5b4a\n" + AWS_ID)]))
    done = nbprod_check(here, "nb.ipynb", "--json", API_TOKEN="tok-9f8e7d6c5b4a")
    assert done.returncode == 4, done.stderr
    assert "the value of $API_TOKEN in an output" in done.stdout and "AKIA..." in done.stdout
    assert "tok-9f8e7d6c5b4a" not in done.stdout + done.stderr and AWS_ID not in done.stdout + done.stderr
