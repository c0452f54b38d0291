"""Who may use the web page and the API: per-person tokens with a role, kept hashed in a
private file (`tomato token add/list/revoke` write it; the web process reads it again
whenever it changed, so a revoked token stops working at once)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .paths import write_private

TOKENS_FILE = "web-tokens.json"
ROLES = ("viewer", "user", "admin")
"""Each may do what the one before it may: viewer reads; user also submits, cancels and
snapshots its own jobs and downloads results; admin also commands pipelines and others'
jobs."""
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
OWNER = "owner"
"""Who the login `ketchup web` prints is (an admin): no token of a person's has the name."""


@dataclass(frozen=True)
class Person:
    """Who a request comes from: a token's name and role."""

    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The tokens file of a configuration (`path`): {name: {role, sha256, created}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._by_digest: dict[str, Person] = {}

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        try:
            entries = json.loads(text)
            if not isinstance(entries, dict):
                raise ValueError("an object of names expected")
        except ValueError as exc:
            raise ConfigError(f"{self.path}: not a tokens file ({exc})") from None
        return entries

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, entries)

    def add(self, name: str, role: str) -> str:
        """A new token for `name` (replacing one it had); returns it: it is not kept."""
        if not NAME.match(name):
            raise ConfigError(f"token name {name!r}: letters, digits and . _ @ - expected "
                              "(at most 64)")
        if name == OWNER:
            raise ConfigError(f"token name {name!r}: it is the name of tomato's own login "
                              "(ketchup web); choose another")
        if role not in ROLES:
            raise ConfigError(f"role {role!r}: one of {', '.join(ROLES)} expected")
        token = secrets.token_urlsafe(32)
        entries = self._read()
        entries[name] = {"role": role, "sha256": digest(token),
                         "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._write(entries)
        return token

    def revoke(self, name: str) -> None:
        entries = self._read()
        if entries.pop(name, None) is None:
            raise ConfigError(f"no token named {name!r} (tomato token list shows them)")
        self._write(entries)

    def list(self) -> list[dict[str, str]]:
        return [{"name": name, "role": e["role"], "created": e.get("created", "")}
                for name, e in sorted(self._read().items())]

    def check(self, token: str) -> Person | None:
        """Whose `token` is (None: nobody's); the file is read again when it changed."""
        try:
            st = self.path.stat()
            seen: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            self._seen = seen
            self._by_digest = {e["sha256"]: Person(name, e["role"])
                               for name, e in self._read().items()
                               if e.get("role") in ROLES and isinstance(e.get("sha256"), str)}
        wanted = digest(token)
        for known, person in self._by_digest.items():
            if hmac.compare_digest(known, wanted):
                return person
        return None
