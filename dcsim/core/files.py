"""Files written whole or not at all, in folders that a failed write does not leave behind.

Results are written to a temporary name beside the target, then renamed. Folders made
on the way are removed again if the write fails, so a failed command leaves nothing.
Folder names made from a user's words (a scenario's name) go through :func:`folder_name`,
so that no name (``..``, ``/etc``, ``a/../../b``, 300 characters) steers where results go.
Data files read whole record their SHA-256 (:func:`file_sha256`), so hashing them costs no second read.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable

NAME_MAX = 255
"""The longest file or folder name most file systems take (bytes)."""

#: Room left in a name for the temporary and backup suffixes (``.tmp-<pid>``, ``.old-<pid>``).
_SUFFIX_ROOM = 24

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def folder_name(name: str, limit: int = 80) -> str:
    """A single, safe folder name for ``name``: no separators, no leading dot, at most ``limit`` characters.

    Characters other than letters, digits and ``._+=-`` become ``_``; a name that is cut or
    changed keeps a short hash of the original, so different names stay apart.
    """
    safe = _UNSAFE.sub("_", name).lstrip(".")
    if safe == name and 0 < len(safe) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: limit - 9].rstrip('_.') or 'scenario'}-{digest}"


def check_name_lengths(path: str, flag: str) -> str | None:
    """What is wrong with the folder and file names of ``path`` (a user's ``--out``), or None."""
    for part in path.replace(os.sep, "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX - _SUFFIX_ROOM:
            return (
                f"{flag}: the name {part[:40]}... is {len(part):,} characters long; file systems take at most "
                f"{NAME_MAX - _SUFFIX_ROOM} here: give a shorter one"
            )
    return None


def make_dirs(path: str) -> list[str]:
    """Make ``path`` and its missing parents; return the folders made, outermost first."""
    made: list[str] = []
    current = os.path.abspath(path)
    while not os.path.exists(current):
        made.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    made.reverse()
    os.makedirs(path, exist_ok=True)
    return made


def remove_dirs(made: list[str]) -> None:
    """Remove the folders :func:`make_dirs` made, innermost first, where they are still empty."""
    for folder in reversed(made):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (something else wrote there) or gone: leave the rest


def write_atomically(path: str, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``.

    A crash or kill leaves either the old file or the new one, never half of one; the
    temporary name holds ``.tmp-<pid>`` so leftovers can be recognised and removed. If
    the write fails, the folders made for it are removed again.
    """
    parent = os.path.dirname(path) or "."
    made = make_dirs(parent)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        remove_dirs(made)
        raise


#: SHA-256 of files already read whole in this process, by (path, modification time, size).
_digests: dict[tuple[str, int, int], str] = {}


def _key(path: str, stat: os.stat_result | None = None) -> tuple[str, int, int]:
    stat = os.stat(path) if stat is None else stat
    return (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


def remember_sha256(path: str, data: bytes, stat: os.stat_result) -> None:
    """Record the SHA-256 of ``data``, read whole from ``path``, for :func:`file_sha256`.

    Args:
        path: the file.
        data: its bytes.
        stat: its ``os.stat`` taken before the read (so a file changed since is read again).
    """
    _digests[_key(path, stat)] = hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes; read again only if it changed since it was last read whole here."""
    key = _key(path)
    digest = _digests.get(key)
    if digest is None:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        _digests[key] = digest
    return digest
