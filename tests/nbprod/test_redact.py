"""Secret values from the environment, redacted from text, bytes, JSON data and files."""

from __future__ import annotations

import io
import json
import os
import stat
from urllib.parse import quote

import pytest

from nbprod import redact
from nbprod.redact import Redactor, redact_text, secret_values

SECRET = "s3cr3t-Value-9f8e7d"


def test_secret_names_are_matched_case_insensitively():
    env = {
        "MY_API_KEY": "aaaaaaaa1",
        "github_token": "bbbbbbbb2",
        "DB_PASSWORD": "cccccccc3",
        "OLD_PASSWD": "dddddddd4",
        "Client_Secret": "eeeeeeee5",
        "GOOGLE_CREDENTIALS_JSON": "ffffffff6",
        "SSH_PRIVATE": "gggggggg7",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE1",
        "AWS_SECRET_ACCESS_KEY": "wJalrEXAMPLE2",
        "AWS_SESSION_TOKEN": "FwoGZEXAMPLE3",
        "HOME": "/home/someone-else",
        "NBPROD_STORE": "s3://bucket/runs",
        "LANG": "en_US.UTF-8",
    }
    found = secret_values(env)
    assert set(found) == {
        "MY_API_KEY", "github_token", "DB_PASSWORD", "OLD_PASSWD", "Client_Secret",
        "GOOGLE_CREDENTIALS_JSON", "SSH_PRIVATE", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    }
    assert found["github_token"] == "bbbbbbbb2"


def test_short_plain_and_path_values_are_not_secrets(tmp_path):
    key_file = tmp_path / "key.json"
    key_file.write_text("{}")
    env = {
        "A_KEY": "12345",  # shorter than MIN_LENGTH
        "B_TOKEN": "  abc ",
        "USE_KEYRING": "false",
        "C_SECRET": "disabled",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),  # an existing file: not the secret
        "D_SECRET": "123456",  # long enough
    }
    assert secret_values(env) == {"D_SECRET": "123456"}
    r = Redactor.from_env({k: v for k, v in env.items() if k != "D_SECRET"})
    assert not r
    text = f"false 12345 {key_file}"
    assert r.text(text) == text and r.bytes(b"x") == b"x" and r.obj({"a": [text]}) == {"a": [text]}


def test_no_secrets_leaves_everything_unchanged_and_is_falsy():
    r = Redactor.from_env({"HOME": "/root", "PATH": "/usr/bin"})
    assert not r and bool(r) is False
    data = {"k": ["v", 1, None, {"x": 2.5}]}
    assert r.obj(data) is data
    assert r.text("anything") == "anything"


def test_text_replaces_every_occurrence_with_the_name():
    r = Redactor({"MY_API_KEY": SECRET})
    assert r
    out = r.text(f"key={SECRET}; again {SECRET}{SECRET}")
    assert SECRET not in out
    assert out == "key=[redacted:MY_API_KEY]; again [redacted:MY_API_KEY][redacted:MY_API_KEY]"
    assert SECRET not in repr(r)


def test_json_escaped_url_quoted_and_html_forms():
    value = 'pa"ss\\word/é&<x>+ 1'
    r = Redactor({"DB_PASSWORD": value})
    forms = [
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        "pa%22ss%5Cword%2F%C3%A9%26%3Cx%3E%2B+1",  # quote_plus
        "pa&quot;ss\\word/é&amp;&lt;x&gt;+ 1",  # html
    ]
    for form in forms:
        assert r.text(f"<{form}>") == "<[redacted:DB_PASSWORD]>", form
    # inside a JSON document the value is escaped: redacting the JSON text removes it
    doc = json.dumps({"out": f"printed {value}"})
    assert "[redacted:DB_PASSWORD]" in r.text(doc)
    assert json.loads(r.text(doc)) == {"out": "printed [redacted:DB_PASSWORD]"}


def test_longest_value_wins_and_same_value_gets_one_name():
    r = Redactor({"SHORT_KEY": "abcdef", "LONG_KEY": "abcdefghij", "B_TOKEN": "zzzzzz", "A_TOKEN": "zzzzzz"})
    assert r.text("abcdefghij abcdef zzzzzz") == "[redacted:LONG_KEY] [redacted:SHORT_KEY] [redacted:A_TOKEN]"


def test_redacting_twice_changes_nothing():
    # a value that occurs inside its own placeholder must not be replaced again
    r = Redactor({"MY_TOKEN": "MY_TOKEN", "X_KEY": SECRET})
    once = r.text(f"MY_TOKEN {SECRET}")
    assert once == "[redacted:MY_TOKEN] [redacted:X_KEY]"
    assert r.text(once) == once


def test_multiline_secret_lines_are_redacted_one_by_one():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
    r = Redactor({"TLS_PRIVATE_KEY": pem})
    assert r.text(pem) == "[redacted:TLS_PRIVATE_KEY]"
    # nbformat stores text as a list of lines
    nb_lines = json.dumps({"text": [line + "\n" for line in pem.splitlines()]})
    out = r.text(nb_lines)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in out and "BKcwggSjAgEAAoIBAQC7" not in out


def test_obj_redacts_nested_keys_and_values():
    r = Redactor({"API_KEY": SECRET})
    data = {
        "params": {"url": f"https://u:{SECRET}@host/x", SECRET: [1, f"a{SECRET}", {"n": None, "b": True}]},
        "t": (SECRET, 2.0),
    }
    out = r.obj(data)
    assert SECRET not in json.dumps(out, default=list)
    assert out["params"]["url"] == "https://u:[redacted:API_KEY]@host/x"
    assert out["params"]["[redacted:API_KEY]"] == [1, "a[redacted:API_KEY]", {"n": None, "b": True}]
    assert out["t"] == ("[redacted:API_KEY]", 2.0)
    assert SECRET in data["params"]["url"]  # a copy: the input is untouched


def test_bytes_are_redacted_and_non_utf8_bytes_round_trip():
    r = Redactor({"API_KEY": SECRET})
    blob = b"\x89PNG\xff\xfe " + SECRET.encode() + b" \x00\x80"
    out = r.bytes(blob)
    assert SECRET.encode() not in out
    assert out == b"\x89PNG\xff\xfe [redacted:API_KEY] \x00\x80"
    binary = bytes(range(256)) * 4
    assert r.bytes(binary) is binary


def test_file_is_redacted_in_place_only_for_text_files(tmp_path):
    r = Redactor({"API_KEY": SECRET})
    nb = tmp_path / "out.ipynb"
    nb.write_text(json.dumps({"cells": [{"outputs": [{"text": [f"{SECRET}\n"]}]}]}))
    nb.chmod(0o640)
    data = tmp_path / "model.pkl"
    data.write_bytes(SECRET.encode())
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing here")
    mtime = clean.stat().st_mtime_ns

    assert r.file(nb) is True
    assert SECRET not in nb.read_text() and "[redacted:API_KEY]" in nb.read_text()
    assert stat.S_IMODE(nb.stat().st_mode) == 0o640
    assert r.file(nb) is False  # already redacted: untouched
    assert r.file(data) is False and data.read_bytes() == SECRET.encode()  # binary: never rewritten
    assert r.file(clean) is False and clean.stat().st_mtime_ns == mtime
    assert r.file(tmp_path / "missing.txt") is False
    assert sorted(os.listdir(tmp_path)) == ["clean.txt", "model.pkl", "out.ipynb"]  # no temp files left

    folder = tmp_path / "report"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.html").write_text(f"<p>{SECRET}</p>")
    (folder / "b.csv").write_text("x\n1\n")
    assert r.tree(folder) == [folder / "sub" / "a.html"]


def test_redact_text_follows_the_current_environment(monkeypatch):
    monkeypatch.delenv("NBPROD_TEST_UNIT_TOKEN", raising=False)
    assert redact_text(f"x {SECRET}") == f"x {SECRET}"
    monkeypatch.setenv("NBPROD_TEST_UNIT_TOKEN", SECRET)
    assert redact_text(f"x {SECRET}") == "x [redacted:NBPROD_TEST_UNIT_TOKEN]"
    first = redact.current()
    assert redact.current() is first  # cached while the environment is unchanged
    monkeypatch.setenv("NBPROD_TEST_UNIT_TOKEN", SECRET + "-rotated")
    assert redact.current() is not first
    assert redact_text(SECRET + "-rotated") == "[redacted:NBPROD_TEST_UNIT_TOKEN]"


def test_redacting_stream_redacts_writes_and_delegates_the_rest(monkeypatch):
    monkeypatch.setenv("NBPROD_TEST_UNIT_TOKEN", SECRET)
    target = io.StringIO()
    stream = redact.RedactingStream(target)
    assert stream.write(f"err: {SECRET}\n") == len(f"err: {SECRET}\n")
    stream.writelines([SECRET, "\n"])
    stream.flush()
    assert target.getvalue() == "err: [redacted:NBPROD_TEST_UNIT_TOKEN]\n[redacted:NBPROD_TEST_UNIT_TOKEN]\n"
    assert stream.getvalue() == target.getvalue()  # anything else goes to the wrapped stream


@pytest.mark.parametrize("value", ["true", "FALSE", "None", "off"])
def test_setting_words_are_not_secrets(value):
    assert secret_values({"FEATURE_KEY_ENABLED": value}) == {}


def test_shared_products_client_stores_redacted_text_products(tmp_path, monkeypatch):
    """ploomber uploads products before nbprod records the run: the client redacts the
    executed notebook in place, so the local file and the stored object are the same bytes."""
    from nbprod.products import ProductClient
    from nbprod.store.pointers import read_pointer
    from nbprod.files import sha256_file
    from nbprod.store import Store

    monkeypatch.setenv("NBPROD_TEST_UNIT_TOKEN", SECRET)
    root = tmp_path / "project"
    (root / "out" / "report").mkdir(parents=True)
    nb = root / "out" / "fit.ipynb"
    nb.write_text(json.dumps({"cells": [{"outputs": [{"text": [f"token {SECRET}\n"]}]}]}))
    meta = root / "out" / ".fit.ipynb.metadata"
    meta.write_text(json.dumps({"params": {"token": SECRET}, "timestamp": 1.0}))
    binary = root / "out" / "model.bin"
    binary.write_bytes(b"\x00" + SECRET.encode())
    (root / "out" / "report" / "index.html").write_text(f"<pre>{SECRET}</pre>")
    store = Store(str(tmp_path / "store"))
    client = ProductClient(store, root)

    client.upload(meta)  # ploomber sends the metadata first
    client.upload(nb)
    report_meta = root / "out" / ".report.metadata"
    report_meta.write_text("{}")
    client.upload(report_meta)
    client.upload(root / "out" / "report")

    pointer = read_pointer(store, client.key(nb))
    assert pointer["sha256"] == sha256_file(nb)  # the local file is the redacted object
    assert f"token [redacted:NBPROD_TEST_UNIT_TOKEN]" in nb.read_text()
    assert SECRET not in nb.read_text() and SECRET.encode() not in store.get_bytes(pointer["sha256"])
    assert SECRET.encode() not in store.read_key(client.key(meta))
    tree = read_pointer(store, client.key(root / "out" / "report"))
    assert store.get_bytes(tree["files"]["index.html"]["sha256"]) == b"<pre>[redacted:NBPROD_TEST_UNIT_TOKEN]</pre>"
    assert binary.read_bytes() == b"\x00" + SECRET.encode()  # binary products are not rewritten


@pytest.mark.parametrize("secret", ["pa'ss\"word99", "tok&<>en123"])
def test_forms_jinja_writes_are_redacted(secret):
    """Report pages are Jinja templates: autoescape writes ' as &#39; and |tojson writes < as \\u003c."""
    from jinja2 import Environment

    page = Environment(autoescape=True).from_string("{{ v }} | {{ d|tojson }}").render(v=secret, d={"k": secret})
    out = Redactor({"DB_PASSWORD": secret}).text(page)
    assert out == '[redacted:DB_PASSWORD] | {"k": "[redacted:DB_PASSWORD]"}'


def test_files_in_place_returns_what_could_not_be_rewritten(tmp_path, monkeypatch):
    clean, leaky, stuck = (tmp_path / n for n in ("clean.txt", "leaky.txt", "stuck.txt"))
    clean.write_text("nothing here")
    leaky.write_text("key=s3cr3t-value-42")
    stuck.write_text("key=s3cr3t-value-42")
    real_replace = __import__("os").replace

    def replace(src, dst):  # the folder of stuck.txt refuses the rename (read-only mount, ...)
        if str(dst).endswith("stuck.txt"):
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr("nbprod.redact.os.replace", replace)
    warned = []
    kept = Redactor({"API_KEY": "s3cr3t-value-42"}).files_in_place([clean, leaky, stuck], warn=warned.append)
    assert kept == {stuck}
    assert leaky.read_text() == "key=[redacted:API_KEY]" and clean.read_text() == "nothing here"
    assert len(warned) == 1 and "could not redact" in warned[0] and "stuck.txt" in warned[0]
    assert "s3cr3t" not in warned[0]
    assert not list(tmp_path.glob(".stuck.txt.redact-*"))  # no temporary copy left behind
