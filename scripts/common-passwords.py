"""Regenerate src/tenantry/adapters/security/common_passwords.txt.gz from zxcvbn's password list.

pip install zxcvbn==4.5.0 && python scripts/common-passwords.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

TARGET = Path(__file__).resolve().parent.parent / "src/tenantry/adapters/security/common_passwords.txt.gz"
words = dict.fromkeys(w.lower() for w in FREQUENCY_LISTS["passwords"])
TARGET.write_bytes(gzip.compress(("\n".join(words) + "\n").encode(), 9, mtime=0))
print(f"{len(words)} passwords -> {TARGET}")
