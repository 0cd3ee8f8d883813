"""Credential values, removed from everything nbprod writes.

Why: a notebook can print, glue or raise an error holding a credential (``print(os.environ
["API_KEY"])``, a connection string in an exception message). nbprod copies those outputs
into run records, stored notebooks, spooled runs, logs and pages, where they would outlive
the run and reach everyone who can read the store. So every writer passes its text through
a :class:`Redactor` first.

What counts as a secret: the *value* of an environment variable whose *name* contains
(case-insensitive) ``KEY``, ``SECRET``, ``TOKEN``, ``PASSWORD``, ``PASSWD``, ``CREDENTIAL`` or
``PRIVATE``, plus the AWS credential variables. nbprod cannot recognise a credential by its
looks, but it knows the environment the notebooks ran in, and that is where credentials come
from (nbprod itself never takes credentials as settings). Values are skipped when redacting
them would only mangle ordinary text and protect nothing:

- shorter than :data:`MIN_LENGTH` characters (``"1"``, ``"yes"``, ``"en_US"``);
- a few words that are settings, not secrets (``true``, ``false``, ``none``, ...);
- the path of a file or folder that exists (``GOOGLE_APPLICATION_CREDENTIALS=/…/key.json``):
  the secret is the file's content, and redacting the path would mangle every path below it.

Each occurrence is replaced by ``[redacted:NAME]`` (the variable's name, never its value), in
its raw form and in the forms it takes inside JSON/.ipynb (JSON-escaped, with and without
``ensure_ascii``), URLs (percent-quoted) and HTML (entity-escaped: ploomber's HTML
notebook products). Lines of a multi-line value (a PEM key) are also
redacted one by one, because nbformat stores text split into lines. Longest values first, so
a secret containing another is replaced whole. All forms go into one precompiled regex
alternation, so redacting is one pass over the text. Placeholders already in the text are
left alone, so redacting twice changes nothing (files are redacted in place by the products
client, then again by the recorder, and must keep the same bytes to keep the same hash).

Files: :meth:`Redactor.file` rewrites a text file in place (temp file + rename). Only
:data:`TEXT_SUFFIXES` are touched: rewriting bytes inside a binary format (a pickle, a
parquet file, a PNG) would corrupt it, so binary products are stored as they are.

Standard library only, and nothing happens at import time: the environment is read when
called.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import threading

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from .files import atomic_write

#: Name fragments (matched case-insensitively anywhere in a variable's name).
NAME_PARTS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE")

#: Names that always hold credentials (already matched by NAME_PARTS; listed so the rule
#: does not depend on that).
AWS_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

#: Values shorter than this are not redacted: too short to be a credential, too likely to
#: occur in ordinary text.
MIN_LENGTH = 6

#: Values that are plainly settings (compared lower-case, stripped).
NOT_SECRET = frozenset(
    {"true", "false", "yes", "no", "on", "off", "none", "null", "nil", "undefined", "disabled",
     "enabled", "default"}
)

#: Files :meth:`Redactor.file` rewrites: notebooks and the text formats products and
#: reports are written in.
TEXT_SUFFIXES = frozenset(
    {".ipynb", ".html", ".htm", ".md", ".txt", ".log", ".json", ".csv", ".tsv", ".yaml",
     ".yml", ".xml", ".tex", ".py", ".r", ".sql", ".svg", ".ini", ".cfg", ".toml", ".env"}
)

_PLACEHOLDER = r"\[redacted:[^\]\s]{1,200}\]"

_NAME_RE = re.compile("|".join(NAME_PARTS), re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable with this name holds a credential."""
    return name.upper() in AWS_NAMES or bool(_NAME_RE.search(name))


def _worth_redacting(value: str) -> bool:
    stripped = value.strip()
    if len(stripped) < MIN_LENGTH or stripped.lower() in NOT_SECRET:
        return False
    try:
        if os.path.isabs(stripped) and os.path.exists(stripped):
            return False
    except (OSError, ValueError):  # a value too long or with NUL is not a path
        pass
    return True


def _relevant(environ: Mapping[str, str]) -> dict[str, str]:
    return {n: v for n, v in environ.items() if is_secret_name(n) and isinstance(v, str)}


def secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{name: value}`` for the variables of ``environ`` (default ``os.environ``) that hold
    secrets worth redacting (see the module docstring for the rule)."""
    env = os.environ if environ is None else environ
    return {n: v for n, v in sorted(_relevant(env).items()) if _worth_redacting(v)}


def _forms(value: str) -> set[str]:
    """The ways ``value`` can appear in what nbprod writes."""
    forms = {value, value.strip()}
    for v in list(forms):
        forms.add(json.dumps(v)[1:-1])
        forms.add(json.dumps(v, ensure_ascii=False)[1:-1])
        forms.add(quote(v, safe=""))
        forms.add(quote_plus(v, safe=""))
        forms.add(html.escape(v, quote=True))
        forms.add(html.escape(v, quote=False))
        # Jinja's autoescape (markupsafe) writes ' and " as &#39; and &#34;
        forms.add(html.escape(v, quote=False).replace("'", "&#39;").replace('"', "&#34;"))
        # Jinja's |tojson (htmlsafe JSON) escapes <, >, & and ' as \u00XX
        forms.add(json.dumps(v)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("&", "\\u0026").replace("'", "\\u0027"))
    if "\n" in value:
        for line in value.splitlines():
            line = line.strip()
            if _worth_redacting(line):
                forms |= _forms(line)
    return {f for f in forms if len(f) >= MIN_LENGTH}


_PLACEHOLDERS = re.compile(r"^(?:[$<{%*\[]|x+$|\.+$)|^(?:pass(?:word|wd)?|pwd|secret|token|changeme|user)$",
                           re.IGNORECASE)
#: (what it is, pattern; a group named ``secret`` is the part a placeholder may stand for)
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id (AKIA...)", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b(?<!EXAMPLE)")),
    ("a private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]{1,30}://[^\s/:@'\"]+:(?P<secret>[^\s/@'\"]+)@",
                                       re.IGNORECASE)),
    ("a token in a URL", re.compile(r"[?&](?:access_token|token|api[_-]?key|client_secret|secret|password|passwd"
                                    r"|sig|signature|x-amz-signature|x-amz-security-token)"
                                    r"=(?P<secret>[^\s&#'\"]{8,})", re.IGNORECASE)),
)


def is_placeholder(secret: str) -> bool:
    """``${DB_PASSWORD}``, ``<password>``, ``xxx``: a credential's stand-in, not one."""
    return bool(_PLACEHOLDERS.search(secret))


def _shape_matches(text: str):
    for label, pattern in SHAPES:
        for match in pattern.finditer(text):
            secret = match.groupdict().get("secret")
            if secret is None or not is_placeholder(secret):
                yield label, match


def credential_shapes(text: str) -> list[str]:
    """What credentials ``text`` holds by their shape (AWS key ids, private keys, tokens,
    passwords in URLs), whatever the environment: each kind once, in SHAPES' order."""
    return list(dict.fromkeys(label for label, _ in _shape_matches(text)))


def mask_shapes(text: str) -> str:
    """``text`` with every credential found by its shape replaced by ``[redacted:credential]``
    (the secret part only, where the pattern names one: a URL keeps its host)."""
    spans = []
    for _, match in _shape_matches(text):
        group = "secret" if match.groupdict().get("secret") is not None else 0
        spans.append(match.span(group))
    for begin, end in sorted(set(spans), reverse=True):
        text = text[:begin] + "[redacted:credential]" + text[end:]
    return text


class Redactor:
    """Replaces secret values with ``[redacted:NAME]`` in text, bytes and JSON-able data.

    Falsy when there is nothing to redact, so callers can skip reading and rewriting files.
    """

    def __init__(self, secrets: Mapping[str, str]):
        self.secrets = dict(secrets)
        by_form: dict[str, str] = {}
        # Sorted by name so that a value held by two variables always gets the same name.
        for name, value in sorted(self.secrets.items()):
            for form in _forms(value):
                by_form.setdefault(form, name)
        self._by_form = by_form
        # `in` (C memmem) finds out fast whether a large text holds anything to redact
        self._forms = tuple(sorted(by_form, key=lambda f: (-len(f), f)))
        self._bforms = tuple(f.encode("utf-8", "surrogateescape") for f in self._forms)
        if by_form:
            ordered = sorted(by_form, key=lambda f: (-len(f), f))  # longest first
            # the placeholder first: an existing one is matched and kept as it is
            alternation = "|".join([_PLACEHOLDER, *map(re.escape, ordered)])
            self._re: re.Pattern[str] | None = re.compile(alternation)
        else:
            self._re = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor for the secrets of ``environ`` (default: the current environment)."""
        return cls(secret_values(environ))

    def __bool__(self) -> bool:
        return self._re is not None

    def __repr__(self) -> str:  # never the values
        return f"Redactor(names={sorted(self.secrets)!r})"

    def _sub(self, match: re.Match[str]) -> str:
        name = self._by_form.get(match.group(0))
        return match.group(0) if name is None else f"[redacted:{name}]"

    def text(self, s: str) -> str:
        """``s`` with every secret value (in any of its forms) replaced."""
        if self._re is None or not s or not any(f in s for f in self._forms):
            return s
        return self._re.sub(self._sub, s)

    def bytes(self, b: bytes) -> bytes:
        """Like :meth:`text` for UTF-8 bytes; bytes that are not UTF-8 pass through unchanged
        (surrogateescape), so binary content round-trips when it holds no secret."""
        if self._re is None or not b or not any(f in b for f in self._bforms):
            return b
        s = b.decode("utf-8", errors="surrogateescape")
        out = self.text(s)
        return b if out == s else out.encode("utf-8", errors="surrogateescape")

    def obj(self, x: Any) -> Any:
        """A copy of JSON-able data with every string redacted: dict keys and values, lists,
        tuples (returned as lists only if they were lists), nested to any depth. Other values
        (numbers, None, bools) are returned as they are."""
        if self._re is None:
            return x
        if isinstance(x, str):
            return self.text(x)
        if isinstance(x, dict):
            return {(self.text(k) if isinstance(k, str) else k): self.obj(v) for k, v in x.items()}
        if isinstance(x, list):
            return [self.obj(v) for v in x]
        if isinstance(x, tuple):
            return tuple(self.obj(v) for v in x)
        return x


    def file(self, path: str | os.PathLike) -> bool:
        """Redact a text file (:data:`TEXT_SUFFIXES`) in place; True when it was rewritten.

        Written to a temporary file beside it and renamed over it (mode kept), so a reader
        never sees half a file. Other files, missing files and files without secrets are
        left untouched (not even rewritten, so their mtime stays). Raises ``OSError`` when
        the file cannot be rewritten: the caller must then store redacted bytes itself.
        """
        path = Path(path)
        if self._re is None or path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
            return False
        data = path.read_bytes()
        out = self.bytes(data)
        if out == data:
            return False
        atomic_write(path, out, mode=path.stat().st_mode & 0o7777)
        return True

    def files_in_place(self, paths, warn=None) -> set[Path]:
        """:meth:`file` for each of ``paths``; returns those that could not be rewritten
        (read-only...), which callers must store from redacted bytes instead. ``warn``
        gets one line per such file."""
        kept: set[Path] = set()
        for path in sorted(Path(p) for p in paths):
            try:
                self.file(path)
            except OSError as err:
                if warn is not None:
                    warn(f"nbprod: warning: could not redact {path} in place ({err.strerror or err}); "
                         "its stored copy is redacted")
                kept.add(path)
        return kept

    def tree(self, path: str | os.PathLike) -> list[Path]:
        """:meth:`file` for a file or every file under a folder; returns those rewritten."""
        path = Path(path)
        files = sorted(c for c in path.rglob("*") if c.is_file()) if path.is_dir() else [path]
        return [f for f in files if self.file(f)]


class RedactingStream:
    """A text stream (``sys.stdout``/``sys.stderr``) that redacts what is written to it.

    Why: during a build, ploomber, papermill and nbprod print in the same process, and
    a failing cell's message (which may hold a secret) reaches the terminal and CI logs
    through ploomber's error report, which nbprod does not print itself. Everything else
    (``fileno``, ``isatty``, ``flush``, ``encoding``...) goes to the wrapped stream. Limits:
    a secret split across two ``write`` calls, or written to ``.buffer`` or the file
    descriptor directly, is not seen.
    """

    def __init__(self, stream: Any):
        self.wrapped = stream

    def write(self, s: str) -> int:
        self.wrapped.write(redact_text(s) if isinstance(s, str) else s)
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


_cache_lock = threading.Lock()
_cache: tuple[str, Redactor] | None = None


def current() -> Redactor:
    """The redactor for the current environment, rebuilt only when a relevant variable
    changed (keyed by a hash of the secret-named variables)."""
    global _cache
    items = sorted(_relevant(os.environ).items())
    key = hashlib.sha256(repr(items).encode("utf-8", "surrogateescape")).hexdigest()
    with _cache_lock:
        if _cache is None or _cache[0] != key:
            _cache = (key, Redactor(secret_values(dict(items))))
        return _cache[1]


def redact_text(s: str) -> str:
    """``s`` with the current environment's secret values replaced by ``[redacted:NAME]``."""
    return current().text(s)


def redact_bytes(b: bytes) -> bytes:
    """Like :func:`redact_text` for bytes."""
    return current().bytes(b)


def redact_obj(x: Any) -> Any:
    """Like :func:`redact_text` for JSON-able data."""
    return current().obj(x)
