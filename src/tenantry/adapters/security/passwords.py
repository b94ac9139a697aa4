"""Password hashing with argon2id (argon2-cffi), and the offline list of common passwords."""

from __future__ import annotations

import gzip
import os
from array import array
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from hashlib import blake2b
from pathlib import Path

from argon2 import PasswordHasher as Argon2
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tenantry.adapters.security.imported_hashes import imported_verifier

COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt.gz")
ARGON2_PREFIX = "$argon2"
# The most an argon2 hash may ask of each sign-in unless this server's own settings ask more
# (about a second of one core and 64 MiB, like the other imported formats).
MAX_IMPORTED_ARGON2_MEMORY_KIB = 65_536
MAX_IMPORTED_ARGON2_TIME_COST = 10
MAX_IMPORTED_ARGON2_PARALLELISM = 8


class Argon2Hasher:
    """Hashes run on a dedicated pool of one thread per CPU. More at a time would only queue for
    the cores while thrashing the caches that make each hash fast; and since glibc gives each
    thread its own malloc arena, which keeps a freed 19 MiB buffer, hashing on any of the
    server's 40 pool threads left up to 40 such buffers resident (319 MB after 200 hashes from
    40 threads, against about 2 x 19 MiB this way)."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int, concurrency: int | None = None) -> None:
        self._argon2 = Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._limits = (
            max(memory_kib, MAX_IMPORTED_ARGON2_MEMORY_KIB),
            max(time_cost, MAX_IMPORTED_ARGON2_TIME_COST),
            max(parallelism, MAX_IMPORTED_ARGON2_PARALLELISM),
        )
        workers = concurrency or max(1, len(os.sched_getaffinity(0)))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")

    def hash(self, password: str) -> str:
        return self._pool.submit(self._argon2.hash, password).result()

    def verify(self, password_hash: str, password: str) -> bool:
        """argon2 (id, i or d) or an imported format (``imported_hashes``: within its cost bounds,
        checked again here); the work runs on the pool. A bad hash is False, never an exception.
        An argon2 hash is verified whatever its cost: it was made here (with this server's
        settings, then or earlier) or bounded when it was imported (``recognizes``)."""
        if not password_hash.startswith(ARGON2_PREFIX):
            imported = imported_verifier(password_hash)
            try:
                return imported is not None and self._pool.submit(imported, password).result()
            except (ValueError, UnicodeError):
                return False
        try:
            return self._pool.submit(self._argon2.verify, password_hash, password).result()
        except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, UnicodeError):
            return False

    def recognizes(self, password_hash: str) -> bool:
        """Whether a hash can be verified here, at a bounded cost per sign-in."""
        if not password_hash.startswith(ARGON2_PREFIX):
            return imported_verifier(password_hash) is not None
        if not password_hash.isascii():
            return False
        try:
            found = extract_parameters(password_hash)
        except (InvalidHashError, ValueError):
            return False
        memory, time_cost, parallelism = self._limits
        return found.memory_cost <= memory and found.time_cost <= time_cost and found.parallelism <= parallelism

    def needs_rehash(self, password_hash: str) -> bool:
        """Every hash but an argon2id one with this server's parameters (imported ones too)."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


class CommonPasswordList:
    """The 30,000 most common passwords, checked case-insensitively. The list is zxcvbn's (MIT,
    4.5.0), shipped as ``common_passwords.txt.gz`` so that a worker holds these words rather than
    all of zxcvbn's dictionaries (~13 MB). Regenerate it with ``scripts/common-passwords.py``.

    In memory the words are 8-byte BLAKE2b digests in one sorted array (240 KB), looked up by
    bisection: a frozenset of the 30,000 strings cost a worker 4.6 MB. Two different words share a
    digest with a chance of about 2^-34 over the whole list, and a collision could only refuse a
    password as common, never accept one."""

    @cached_property
    def _digests(self) -> array[int]:
        with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
            digests = sorted({_digest(word) for line in lines if (word := line.strip())})
        return array("Q", digests)

    def __contains__(self, password: object) -> bool:
        if not isinstance(password, str):
            return False
        digests, wanted = self._digests, _digest(password.lower())
        at = bisect_left(digests, wanted)
        return at < len(digests) and digests[at] == wanted


def _digest(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
