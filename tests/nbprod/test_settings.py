"""nbprod.config: settings from NBPROD_* environment variables."""

from __future__ import annotations

import dataclasses

import pytest

from nbprod.settings import DEFAULT_STORE, Settings
from nbprod.errors import ConfigError, NbprodError

NBPROD_VARS = ("NBPROD_STORE", "NBPROD_DEBUG", "NBPROD_INLINE_MAX")


@pytest.fixture
def clean_env(monkeypatch):
    for name in NBPROD_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({"HOME": "/home/ada"})
    assert settings == Settings(
        store="outputs/store", debug=False, inline_max=4096, store_timeout=5.0,
        spool="/home/ada/.cache/nbprod/spool",
        cache="/home/ada/.cache/nbprod/objects",
    )
    assert DEFAULT_STORE == "outputs/store"


def test_defaults_from_os_environ(clean_env):
    settings = Settings.from_env()
    assert settings.store == "outputs/store"
    assert settings.debug is False
    assert settings.inline_max == 4096


def test_os_environ_is_read_at_call_time_not_import_time(clean_env):
    assert Settings.from_env().store == "outputs/store"
    clean_env.setenv("NBPROD_STORE", "memory://later")
    assert Settings.from_env().store == "memory://later"
    clean_env.setenv("NBPROD_DEBUG", "1")
    assert Settings.from_env().debug is True


@pytest.mark.parametrize(
    "value", ["s3://bucket/prefix", "memory://runs", "/srv/nbprod/store", "file:///tmp/store"]
)
def test_store_override(value):
    assert Settings.from_env({"NBPROD_STORE": value}).store == value


def test_store_is_stripped_and_blank_means_default():
    assert Settings.from_env({"NBPROD_STORE": "  s3://b/p \n"}).store == "s3://b/p"
    assert Settings.from_env({"NBPROD_STORE": ""}).store == DEFAULT_STORE
    assert Settings.from_env({"NBPROD_STORE": "   "}).store == DEFAULT_STORE


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "on", " 1 ", "On"])
def test_debug_true_values(value):
    assert Settings.from_env({"NBPROD_DEBUG": value}).debug is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "off", "", "  ", "OFF"])
def test_debug_false_values(value):
    assert Settings.from_env({"NBPROD_DEBUG": value}).debug is False


@pytest.mark.parametrize("value", ["2", "maybe", "enabled", "y", "-1", "1.0"])
def test_bad_debug_raises_config_error_naming_the_variable(value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"NBPROD_DEBUG": value})
    err = info.value
    assert isinstance(err, NbprodError)
    assert "NBPROD_DEBUG" in str(err)
    assert "\n" not in str(err)
    assert err.hint  # says what to set it to


@pytest.mark.parametrize("value,expected", [("100", 100), ("0", 0), (" 8192 ", 8192), ("", 4096)])
def test_inline_max(value, expected):
    assert Settings.from_env({"NBPROD_INLINE_MAX": value}).inline_max == expected


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "4k", "1e3"])
def test_bad_inline_max_raises_config_error_naming_the_variable(value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"NBPROD_INLINE_MAX": value})
    assert "NBPROD_INLINE_MAX" in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_value_in_os_environ(clean_env):
    clean_env.setenv("NBPROD_DEBUG", "sometimes")
    with pytest.raises(ConfigError, match="NBPROD_DEBUG"):
        Settings.from_env()


def test_unrelated_variables_are_ignored():
    env = {"NBPROD_STORE": "memory://x", "NBPROD_UNKNOWN": "whatever", "AWS_ACCESS_KEY_ID": "k", "HOME": "/h"}
    assert Settings.from_env(env) == Settings(store="memory://x", spool="/h/.cache/nbprod/spool", cache="/h/.cache/nbprod/objects")


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.store = "elsewhere"


# -- the default store belongs to the project ------------------------------------------------------


def test_the_default_store_is_beside_the_nearest_pipeline_yaml(tmp_path, monkeypatch):
    from nbprod.settings import project_folder

    (tmp_path / "pipeline.yaml").write_text("tasks: []\n")
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    assert project_folder({}) == tmp_path.resolve()
    assert Settings.from_env({}).store == str(tmp_path.resolve() / "outputs" / "store")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).store == DEFAULT_STORE  # the project folder itself: kept short


def test_a_build_gives_its_project_root_and_entry_point_wins(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pipeline.ci.yaml").write_text("tasks: []\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}, root=other).store == str(other / "outputs" / "store")
    entry = {"ENTRY_POINT": str(other / "pipeline.ci.yaml")}
    assert Settings.from_env(entry).store == str(other.resolve() / "outputs" / "store")
    assert Settings.from_env({**entry, "NBPROD_STORE": "s3://b/p"}).store == "s3://b/p"


def test_without_any_pipeline_the_default_store_is_the_current_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).store == DEFAULT_STORE


def test_timeouts_come_from_the_environment_and_a_smoke_build_has_defaults():
    from nbprod.settings import SMOKE_BUILD_TIMEOUT, SMOKE_CELL_TIMEOUT

    assert Settings.from_env({}).timeouts() == (None, None)  # a normal build: no limit unless asked
    assert Settings.from_env({}).timeouts(smoke=True) == (SMOKE_CELL_TIMEOUT, SMOKE_BUILD_TIMEOUT)
    given = Settings.from_env({"NBPROD_CELL_TIMEOUT": "30", "NBPROD_BUILD_TIMEOUT": "600"})
    assert given.timeouts() == given.timeouts(smoke=True) == (30.0, 600.0)
    assert Settings.from_env({"NBPROD_CELL_TIMEOUT": "0"}).timeouts(smoke=True) == (None, SMOKE_BUILD_TIMEOUT)


@pytest.mark.parametrize("value", ["ten", "-1", "inf", "10m"])
def test_a_bad_timeout_names_the_variable(value):
    with pytest.raises(ConfigError, match=r"NBPROD_BUILD_TIMEOUT=.* is not a non-negative number \(seconds\)"):
        Settings.from_env({"NBPROD_BUILD_TIMEOUT": value})
