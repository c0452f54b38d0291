"""Reading a payload file for `ketchup submit`: YAML or JSON, bounded in every dimension,
each refusal one line naming the file (and the line, where there is one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import PayloadError

SUFFIXES = {".yml": "yaml", ".yaml": "yaml", ".json": "json"}
MAX_BYTES = 4 * 1024 * 1024
MAX_VALUES = 100_000
"""Values (numbers, strings, lists, maps) in a payload after YAML aliases are expanded."""
INT_RANGE = (-(2**63), 2**64 - 1)
"""What the wire (msgpack) carries as an integer."""


def read_payload(path: Path) -> dict[str, Any]:
    """Read a payload file, its `samplefile`/`methodfile` inlined (the service must not read
    the caller's files); raises PayloadError naming the file and what is wrong."""
    raw = _load(path)
    if isinstance(raw, dict):
        for key in ("samplefile", "methodfile"):
            if key in raw:
                part = key.removesuffix("file")
                sub = path.parent / str(raw.pop(key))
                content = _load(sub, SUFFIXES.get(sub.suffix.lower(), "yaml"))
                raw[part] = content.get(part) if isinstance(content, dict) else None
    _check_values(path, raw)  # again: with its parts
    return payload_mapping(path, raw)


def read_payload_base64(text: str) -> dict[str, Any]:
    """A payload given as base64 of its JSON (`ketchup submit -J`, tomato 0.2's scripts),
    checked as a file is; its name in messages is `(base64 payload)`."""
    import base64
    import binascii

    name = Path("(base64 payload)")
    if len(text) > MAX_BYTES * 4 // 3 + 4:
        raise PayloadError(f"{name}: larger than {MAX_BYTES // 1024 // 1024} MiB; a payload "
                           "describes an experiment, it holds no data")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"{name}: not base64: {exc}") from None
    try:
        raw = _parse(name, data.decode("utf-8"), "json")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{name}: not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                           f"{exc.start})") from None
    except RecursionError:
        raise PayloadError(f"{name}: nested too deeply") from None
    _check_values(name, raw)
    return payload_mapping(name, raw)


def _load(path: Path, kind: str | None = None) -> Any:
    kind = kind or SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise PayloadError(f"{path}: a payload file must end in .yml, .yaml or .json")
    try:
        if not path.is_file():
            raise PayloadError(f"{path}: cannot read the payload: "
                               f"{'not a regular file' if path.exists() else 'no such file'}")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read the payload: {exc.strerror}") from None
    return parse_payload(path, data, kind)


def parse_payload(path: Path, data: bytes, kind: str) -> Any:
    """A payload's bytes (YAML or JSON, `kind`), bounded as a file's; `path` names it in
    the errors. Checked values: see _check_values."""
    if len(data) > MAX_BYTES:
        raise PayloadError(f"{path}: larger than {MAX_BYTES // 1024 // 1024} MiB; a payload "
                           "describes an experiment, it holds no data")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                           f"{exc.start})") from None
    try:
        raw = _parse(path, text, kind)
    except RecursionError:
        raise PayloadError(f"{path}: nested too deeply") from None
    _check_values(path, raw)
    return raw


def payload_mapping(path: Path, raw: Any) -> dict[str, Any]:
    """A payload is a mapping (as the service says too: the message carries one)."""
    if not isinstance(raw, dict):
        raise PayloadError(f"{path}: expected a mapping at the top level")
    return raw


def _parse(path: Path, text: str, kind: str) -> Any:
    if kind == "json":
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"{path}:{exc.lineno}: JSON syntax error: {exc.msg}") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise PayloadError(f"{path}: {exc}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise PayloadError(f"{path}:{line}: YAML syntax error: {exc.problem}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise PayloadError(f"{path}: YAML error: {exc}") from None


def _check_values(path: Path, raw: Any) -> None:
    """Refuse what the wire cannot carry or what no experiment needs: more than MAX_VALUES
    values (YAML aliases expanded: a 'billion laughs'), integers out of 64 bits, text with
    control characters in the keys."""
    stack, seen = [raw], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise PayloadError(f"{path}: more than {MAX_VALUES} values (with YAML aliases "
                               "expanded)")
        if isinstance(value, dict):
            stack.extend(value.values())
            stack.extend(value.keys())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int) and not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise PayloadError(f"{path}: the number {str(value)[:20]}… is too large")
        elif not isinstance(value, (str, int, float, bool, type(None))):
            raise PayloadError(f"{path}: a value of type {type(value).__name__} "
                               "(only text, numbers, true/false, lists and maps)")
