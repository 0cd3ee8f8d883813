"""nbprod.exceptions: one root, one-line messages, structured and picklable."""

from __future__ import annotations

import builtins
import copy
import inspect
import pickle

import pytest

from nbprod import errors as exceptions
from nbprod.errors import (
    BuildFailedError,
    BuildInterruptedError,
    ConfigError,
    IntegrityError,
    NbprodError,
    PipelineError,
    RunNotFoundError,
    StoreError,
)

ALL_CLASSES = [
    obj
    for _, obj in inspect.getmembers(exceptions, inspect.isclass)
    if issubclass(obj, BaseException) and obj.__module__ == exceptions.__name__
]
SUBCLASSES = [cls for cls in ALL_CLASSES if cls is not NbprodError]

# the structured fields each class documents, with sample values
FIELDS = {
    NbprodError: {},
    ConfigError: {},
    StoreError: {"url": "s3://bucket/prefix"},
    RunNotFoundError: {"url": "memory://store", "ref": "2026"},
    IntegrityError: {
        "url": "memory://store",
        "key": "objects/sha256/ab/" + "c" * 62,
        "expected": "ab" + "c" * 62,
        "actual": "de" + "f" * 62,
    },
    PipelineError: {},
    BuildFailedError: {"run_id": "20261122T143308Z-a1b2c3", "task": "train", "cell": 3, "error": "ValueError: boom"},
    BuildInterruptedError: {"run_id": "20261122T143308Z-a1b2c3", "signal": "SIGTERM"},
}


def test_module_defines_the_documented_classes():
    assert set(FIELDS) <= set(ALL_CLASSES)


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
def test_every_subclass_derives_from_the_root(cls):
    assert issubclass(cls, NbprodError)
    with pytest.raises(NbprodError):
        raise cls("went wrong")


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_no_class_is_named_like_a_builtin(cls):
    assert not hasattr(builtins, cls.__name__)


def test_store_error_family():
    assert issubclass(RunNotFoundError, StoreError)
    assert issubclass(IntegrityError, StoreError)
    assert not issubclass(ConfigError, StoreError)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_str_is_one_line_message_colon_hint(cls):
    err = cls("store outputs/store is not writable", hint="check NBPROD_STORE", **FIELDS.get(cls, {}))
    assert str(err) == "store outputs/store is not writable: check NBPROD_STORE"
    assert "\n" not in str(err)
    assert err.message == "store outputs/store is not writable"
    assert err.hint == "check NBPROD_STORE"


def test_str_without_hint_is_the_message():
    err = ConfigError("NBPROD_DEBUG='maybe' is not a boolean")
    assert err.hint is None
    assert str(err) == "NBPROD_DEBUG='maybe' is not a boolean"
    assert err.args == ("NBPROD_DEBUG='maybe' is not a boolean",)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_fields_are_attributes(cls):
    err = cls("message", hint="hint", **FIELDS.get(cls, {}))
    for name, value in FIELDS.get(cls, {}).items():
        assert getattr(err, name) == value


def test_integrity_error_fields():
    err = IntegrityError("corrupt", key="objects/sha256/aa/bb", expected="aa", actual="bb")
    assert (err.key, err.expected, err.actual) == ("objects/sha256/aa/bb", "aa", "bb")


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip_keeps_type_message_hint_and_fields(cls, protocol):
    err = cls("something failed", hint="do this", **FIELDS.get(cls, {}))
    back = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(back) is cls
    assert back.message == "something failed"
    assert back.hint == "do this"
    assert str(back) == str(err)
    assert back.args == err.args
    for name, value in FIELDS.get(cls, {}).items():
        assert getattr(back, name) == value


def test_pickle_round_trip_without_hint_or_fields():
    back = pickle.loads(pickle.dumps(PipelineError("bad pipeline.yaml")))
    assert type(back) is PipelineError
    assert back.hint is None
    assert str(back) == "bad pipeline.yaml"


def test_deepcopy_keeps_fields():
    err = BuildFailedError("build failed", hint="see the notebook", run_id="r", task="t", cell=2, error="E")
    dup = copy.deepcopy(err)
    assert dup is not err
    assert (dup.run_id, dup.task, dup.cell, dup.error) == ("r", "t", 2, "E")
    assert str(dup) == "build failed: see the notebook"
