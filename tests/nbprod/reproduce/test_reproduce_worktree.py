"""A dirty run's tree, kept when it is recorded (nbprod.record.keep) and re-created from the
store in a git worktree (nbprod.reproduce.worktree): the patch verified by its hash, untracked
files restored, and every way it cannot be re-created byte for byte refused in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nbprod.errors import IntegrityError, NotReproducibleError
from nbprod.files import sha256_bytes
from nbprod.record.keep import uncommitted
from nbprod.redact import Redactor
from nbprod.reproduce import worktree
from nbprod.store import Store


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=root,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "job.py").write_text("N = 1\n")
    (root / "logo.bin").write_bytes(bytes(range(256)))
    (root / ".gitignore").write_text("ignored/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def make_dirty(root: Path) -> None:
    (root / "pkg" / "job.py").write_text("N = 2  # not committed\n")
    (root / "logo.bin").write_bytes(bytes(range(255, -1, -1)))  # a binary edit: `git diff --binary`
    (root / "helper.py").write_text("def f():\n    return 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "ignored").mkdir()
    (root / "ignored" / "data.csv").write_text("x\n")  # git-ignored: not a source
    (root / "out").mkdir()
    (root / "out" / "made.txt").write_text("made by the build\n")  # a product: excluded
    (root / "out" / ".made.txt.metadata").write_text("{}")  # ploomber's metadata beside it: excluded


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def commit_of(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def test_a_dirty_tree_is_kept_and_re_created_byte_for_byte(repo, store, tmp_path):
    make_dirty(repo)
    kept = uncommitted(repo, store, None, exclude=[repo / "out" / "made.txt"])
    assert kept["applicable"] and kept["why"] is None and kept["skipped"] == []
    assert [f["path"] for f in kept["untracked"]] == ["helper.py", "run.sh"]
    assert store.get_bytes(kept["patch"]["sha256"]).startswith(b"diff --git a/")
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")
    assert (tree / "pkg" / "job.py").read_text() == "N = 1\n"  # the commit, not the user's tree
    worktree.apply_uncommitted(tree, kept, store, tmp_path, "r1")
    for name in ("pkg/job.py", "logo.bin", "helper.py", "run.sh"):
        assert (tree / name).read_bytes() == (repo / name).read_bytes(), name
    assert (tree / "run.sh").stat().st_mode & 0o111
    assert not (tree / "out").exists() and not (tree / "ignored").exists()
    assert git(repo, "status", "--porcelain") != "" and (repo / "pkg" / "job.py").read_text() == "N = 2  # not committed\n"
    worktree.remove(repo, tree)
    assert not tree.exists() and len(git(repo, "worktree", "list").splitlines()) == 1


def test_a_stored_patch_that_is_not_its_hash_is_refused_by_the_store(repo, store, tmp_path):
    make_dirty(repo)
    kept = uncommitted(repo, store, None)
    object_file = Path(store.root) / store.object_key(kept["patch"]["sha256"])
    object_file.write_bytes(object_file.read_bytes().replace(b"N = 2", b"N = 9"))
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")
    with pytest.raises(IntegrityError, match="is corrupt"):
        worktree.apply_uncommitted(tree, kept, store, tmp_path, "r1")
    assert (tree / "pkg" / "job.py").read_text() == "N = 1\n"  # nothing applied


def test_a_patch_that_applies_but_leaves_another_tree_is_refused(repo, store, tmp_path):
    """After `git apply`, the tree's own patch must hash as recorded: a patch without its
    `index` lines applies, but the tree's diff has them, so it is another patch."""
    make_dirty(repo)
    (repo / "logo.bin").write_bytes(bytes(range(256)))  # text changes only
    kept = uncommitted(repo, store, None)
    data = store.get_bytes(kept["patch"]["sha256"])
    stripped = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"index "))
    kept["patch"] = {"sha256": store.put_bytes(stripped)["sha256"], "size": len(stripped)}
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")
    with pytest.raises(NotReproducibleError, match=r"patch applied, but the tree's changes hash to"):
        worktree.apply_uncommitted(tree, kept, store, tmp_path, "r1")


def test_a_patch_that_does_not_apply_is_refused_with_gits_reason(repo, store, tmp_path):
    make_dirty(repo)
    kept = uncommitted(repo, store, None)
    git(repo, "stash", "-u")
    (repo / "pkg" / "job.py").write_text("N = 5\n")
    git(repo, "commit", "-q", "-am", "moved on")
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")  # another commit than the patch's
    with pytest.raises(NotReproducibleError, match=r"uncommitted patch does not apply to its commit: .*pkg/job.py"):
        worktree.apply_uncommitted(tree, kept, store, tmp_path, "r1")


def test_changes_holding_a_secret_are_stored_redacted_and_marked_not_applicable(repo, store, tmp_path):
    token = "s3cr3t-token-value-123"
    (repo / "pkg" / "job.py").write_text(f"TOKEN = '{token}'\n")
    kept = uncommitted(repo, store, Redactor({"API_TOKEN": token}))
    assert token.encode() not in store.get_bytes(kept["patch"]["sha256"])
    assert b"[redacted:API_TOKEN]" in store.get_bytes(kept["patch"]["sha256"])
    assert kept["applicable"] is False and "held a secret value" in kept["why"]
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")
    with pytest.raises(NotReproducibleError) as err:
        worktree.apply_uncommitted(tree, kept, store, tmp_path, "r1")
    assert str(err.value).startswith("run r1's uncommitted changes cannot be re-created byte for byte: its patch held")


def test_large_untracked_files_are_listed_not_kept(repo, store, monkeypatch):
    from nbprod.record import keep

    monkeypatch.setattr(keep, "UNTRACKED_FILE_MAX_MB", 1e-5)  # about 10 bytes
    (repo / "small.txt").write_text("1\n")
    (repo / "big.txt").write_text("x" * 100)
    kept = uncommitted(repo, store, None)
    assert [f["path"] for f in kept["untracked"]] == ["small.txt"]
    assert kept["skipped"] == [{"path": "big.txt", "size": 100, "why": "over 1e-05 MB"}]
    assert kept["applicable"]  # reproduce warns that it runs without it


def test_a_commit_the_clone_lacks_is_one_line_saying_to_fetch_it(repo, tmp_path):
    with pytest.raises(NotReproducibleError) as err:
        worktree.add(repo, "ab" * 20, tmp_path / "wt", "20261201T100000Z-abcdef")
    text = str(err.value)
    assert text == (f"commit abababababab of run 20261201T100000Z-abcdef is not in this clone ({repo}): fetch it "
                    f"(`git fetch origin {'ab' * 20}`, or the branch that has it), then run nbprod reproduce again")
    assert err.value.exit_code == 2 and not (tmp_path / "wt").exists()


def test_a_dirty_run_recorded_before_changes_were_kept_is_refused(repo, store, tmp_path):
    tree = worktree.add(repo, commit_of(repo), tmp_path / "wt", "r1")
    with pytest.raises(NotReproducibleError, match="recorded before nbprod kept them"):
        worktree.apply_uncommitted(tree, None, store, tmp_path, "r1")


def test_outside_a_clone_reproduce_says_where_to_run(tmp_path):
    with pytest.raises(NotReproducibleError, match="is not inside a git clone"):
        worktree.repository(tmp_path)


def test_the_patch_hash_is_independent_of_the_users_diff_settings(repo, store):
    make_dirty(repo)
    first = uncommitted(repo, store, None)["patch"]["sha256"]
    git(repo, "config", "diff.noprefix", "true")
    git(repo, "config", "diff.mnemonicPrefix", "true")
    assert uncommitted(repo, store, None)["patch"]["sha256"] == first
    assert sha256_bytes(store.get_bytes(first)) == first


def _every_stored_byte(store: Store) -> bytes:
    return b"".join(p.read_bytes() for p in Path(store.root).rglob("*") if p.is_file())


def test_credentials_no_environment_names_are_never_stored(repo, store, tmp_path):
    key = "AKIA" + "QWERTYUIOPASDFGH"  # an AWS access key id's shape, in no environment variable
    (repo / "creds.txt").write_text(f"aws_access_key_id = {key}\n")  # untracked, not ignored
    (repo / "pkg" / "job.py").write_text("URL = 'postgresql://ana:hunter2pw@db/x'\n")  # tracked: in the patch

    kept = uncommitted(repo, store, None)

    assert key.encode() not in _every_stored_byte(store) and b"hunter2pw" not in _every_stored_byte(store)
    assert kept["skipped"] == [{"path": "creds.txt", "size": len(f"aws_access_key_id = {key}\n"),
                                "why": "it holds an AWS access key id (AKIA...)"}]
    assert kept["patch"] is None and kept["applicable"] is False
    assert kept["why"] == "its patch of tracked files holds a password in a URL: not stored"
