"""Hashes made by other systems verify here as they did there.

The vectors were made by the systems themselves (passlib 1.7.4, Django 5.2, Werkzeug 3.1, pyca
bcrypt 4.0 — which still cut passwords at 72 bytes —, PHP's manual, argon2-cffi, and Node's
crypto for the PHC strings), not by the code under test; each for PASSWORD unless it says.
"""

from __future__ import annotations

import pytest

from tenantry.adapters.security.imported_hashes import imported_verifier
from tenantry.adapters.security.passwords import Argon2Hasher

PASSWORD = "correct horse battery staple"

VECTORS = {
    "bcrypt 2b (pyca bcrypt)": "$2b$04$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW",
    "pbkdf2-sha256 (passlib)": "$pbkdf2-sha256$1000$7B3j3HvPOUfondM659xbiw$7ZixqNhUwiTP7ZNkZKKQt5q7azENw8hWopWFVXW2d9g",
    "pbkdf2-sha512 (passlib)": (
        "$pbkdf2-sha512$1000$SInRei8l5Lz3fk.p9Z4TIg$w3TGGz5hLtp8e4JfmMFlELt7sTKUsW7JvH/.jsPmdzzYiHJi3sIL7/7bfp"
        "sS0jj5VTcxVeV4DPVikFrOSxOmQQ"
    ),
    "pbkdf2-sha1 (passlib)": "$pbkdf2$1000$GWOM0fqf0xoDYGytFWIs5Q$tohmCt3dFNjcCKdV6hGYs2txaFw",
    "pbkdf2-sha256 (PHC string)": (
        "$pbkdf2-sha256$i=1000,l=32$bWlncmF0ZWQtc2FsdC0xNg$gVklHl/yCNl4+k6jJc52eQMqd1Ixgm3gJODtt7gLPZM"
    ),
    "pbkdf2_sha256 (Django)": "pbkdf2_sha256$1000$seasalt2$vVHZGEs7v6quz+ZQJ3YUviKmZHPrpr5OATMMKlICjVY=",
    "pbkdf2_sha1 (Django)": "pbkdf2_sha1$1000$seasalt2$ozaqlU+DzMlaOcVcNhmtJq5ziFg=",
    "pbkdf2 (Werkzeug)": (
        "pbkdf2:sha256:1000$ZqLkhWj8fs6DTd3N$d19a599b1df7afb6bd3e631284ea00044ec9467ec2cc06c1561fbc0efdd808f7"
    ),
    "scrypt (passlib)": "$scrypt$ln=10,r=8,p=1$cW7NmbMWghCC0Nq7d845Jw$H0k3y6uX4knQv257/a7VqzqiYIdYkCzDPcnFhjvk7bQ",
    "scrypt (PHC string)": "$scrypt$ln=10,r=8,p=1$bWlncmF0ZWQtc2FsdC0xNg$djRpAdjYyCe2H2nOn+ChiErd12RhIOfpLrdaRa0yxPU",
    "scrypt (Werkzeug)": (
        "scrypt:1024:8:1$SjqiMOTThLfEaldG$b440ccd57a9e1d5d72cfb812995382373889fc688f9e487ecdee4dede3fd5023a1c2b00b3a"
        "bfb9f0f8b21ba23ddb65f9afa3f00794a183e95d47ce0d9b02528d"
    ),
}
ARGON2I = "$argon2i$v=19$m=1024,t=1,p=1$44QmWVoAu4WYAS5Z9V6A9Q$388yOFYJcR6av8n/gsgVkK1y97yoFYz167oUMGTUs7Q"
ARGON2D = "$argon2d$v=19$m=1024,t=1,p=1$BeNziRx65SC9zrAlj9oFHQ$QnwCDlITvtAXRfoXGDNqwASuEYmggOQ7M0eP8tUDtcw"
PHP_MANUAL_BCRYPT_2Y = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"  # "rasmuslerdorf"
BCRYPT_OF_80_XS = "$2b$04$3qDFh0NU38yJ5DD6VN0h3.O1Jx.AiljU3.2qAu2t.XIoiQGtSfkwm"  # "x" * 80, cut to 72


@pytest.fixture(scope="module")
def hasher() -> Argon2Hasher:
    return Argon2Hasher(memory_kib=1024, time_cost=1, parallelism=1, concurrency=1)


@pytest.mark.parametrize("stored", VECTORS.values(), ids=VECTORS.keys())
def test_each_format_verifies_its_password_and_only_it(hasher: Argon2Hasher, stored: str) -> None:
    assert hasher.recognizes(stored)
    assert hasher.verify(stored, PASSWORD)
    assert not hasher.verify(stored, PASSWORD + " ")
    assert not hasher.verify(stored, PASSWORD.upper())
    assert hasher.needs_rehash(stored)


def test_argon2i_and_argon2d_verify_and_are_replaced(hasher: Argon2Hasher) -> None:
    for stored in (ARGON2I, ARGON2D):
        assert hasher.recognizes(stored)
        assert hasher.verify(stored, PASSWORD) and not hasher.verify(stored, "wrong")
        assert hasher.needs_rehash(stored)
    own = hasher.hash(PASSWORD)
    assert hasher.recognizes(own) and not hasher.needs_rehash(own)


def test_bcrypt_2y_and_the_72_byte_cut(hasher: Argon2Hasher) -> None:
    assert hasher.verify(PHP_MANUAL_BCRYPT_2Y, "rasmuslerdorf")
    assert not hasher.verify(PHP_MANUAL_BCRYPT_2Y, "rasmuslerdorF")
    # pyca/bcrypt 5 refuses passwords over 72 bytes; the systems these hashes come from ignored
    # the rest, so a user who typed 80 characters there signs in with the same 80 here.
    assert hasher.verify(BCRYPT_OF_80_XS, "x" * 80)
    assert hasher.verify(BCRYPT_OF_80_XS, "x" * 72)
    assert not hasher.verify(BCRYPT_OF_80_XS, "x" * 71)


UNRECOGNIZED = {
    "empty": "",
    "plain text": PASSWORD,
    "md5 hex": "5f4dcc3b5aa765d61d8327deb882cf99",
    "bcrypt 2x (the broken variant)": "$2x$04$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW",
    "bcrypt cut short": VECTORS["bcrypt 2b (pyca bcrypt)"][:-1],
    "bcrypt cost 31": "$2b$31$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW",
    "pbkdf2, 100 million iterations": "pbkdf2_sha256$100000000$seasalt2$vVHZGEs7v6quz+ZQJ3YUviKmZHPrpr5OATMMKlICjVY=",
    "pbkdf2 with md5": "pbkdf2:md5:1000$ZqLkhWj8fs6DTd3N$d19a599b1df7afb6bd3e631284ea0004",
    "pbkdf2 PHC without i": "$pbkdf2-sha256$l=32$bWlncmF0ZWQtc2FsdC0xNg$gVklHl/yCNl4+k6jJc52eQMqd1Ixgm3gJODtt7gLPZM",
    "pbkdf2 PHC with a wrong l": (
        "$pbkdf2-sha256$i=1000,l=16$bWlncmF0ZWQtc2FsdC0xNg$gVklHl/yCNl4+k6jJc52eQMqd1Ixgm3gJODtt7gLPZM"
    ),
    "pbkdf2 PHC with a repeated i": (
        "$pbkdf2-sha256$i=1000,i=1$bWlncmF0ZWQtc2FsdC0xNg$gVklHl/yCNl4+k6jJc52eQMqd1Ixgm3gJODtt7gLPZM"
    ),
    "pbkdf2 with zero iterations": "pbkdf2_sha256$0$seasalt2$vVHZGEs7v6quz+ZQJ3YUviKmZHPrpr5OATMMKlICjVY=",
    "Werkzeug hex of odd length": "pbkdf2:sha256:1000$ZqLkhWj8fs6DTd3N$d19",
    "scrypt with N = 2^30": "$scrypt$ln=30,r=8,p=1$cW7NmbMWghCC0Nq7d845Jw$H0k3y6uX4knQv257/a7VqzqiYIdYkCzDPcnFhjvk7bQ",
    "scrypt without p": "$scrypt$ln=10,r=8$cW7NmbMWghCC0Nq7d845Jw$H0k3y6uX4knQv257/a7VqzqiYIdYkCzDPcnFhjvk7bQ",
    "Werkzeug scrypt N not a power of two": "scrypt:1000:8:1$SjqiMOTThLfEaldG$b440ccd57a9e1d5d",
    "base64 of impossible length": "$pbkdf2-sha256$1000$7B3j3$7ZixqNhUwiTP7ZNkZKKQt5q7azENw8hWopWFVXW2d9g",
    "argon2 garbled": "$argon2id$v=19$m=1024$nonsense",
    "argon2 with a non-ASCII salt": "$argon2id$v=19$m=65536,t=3,p=4$é$x",
    "a superscript digit as iterations": "$pbkdf2-sha256$²$c2FsdA$aGFzaA",
    "scrypt past 64 MiB (and past hashlib's maxmem)": "$scrypt$ln=20,r=16,p=1$c2FsdA$aGFzaA",
    "scrypt with N·r·p past 2^22": "$scrypt$ln=16,r=8,p=64$c2FsdA$aGFzaA",
    "pbkdf2 past 2M iterations x blocks": "pbkdf2_sha1$1000000$salt$" + "A" * 84 + "==",
    "bcrypt cost 15": "$2b$15$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW",
}


@pytest.mark.parametrize("stored", UNRECOGNIZED.values(), ids=UNRECOGNIZED.keys())
def test_other_strings_are_not_recognized_and_never_verify(hasher: Argon2Hasher, stored: str) -> None:
    assert not hasher.recognizes(stored)
    assert imported_verifier(stored) is None
    assert not hasher.verify(stored, PASSWORD)


@pytest.mark.parametrize(
    "params",
    ["m=4194304,t=1,p=1", "m=65537,t=1,p=1", "m=1024,t=11,p=1", "m=1024,t=1,p=9"],
    ids=["4 GiB", "64 MiB + 1 KiB", "t=11", "p=9"],
)
def test_argon2_asking_too_much_of_each_sign_in_is_not_recognized(hasher: Argon2Hasher, params: str) -> None:
    """Not verified here: it would do the work (recognition is what keeps it out of the store)."""
    assert not hasher.recognizes(
        f"$argon2id$v=19${params}$44QmWVoAu4WYAS5Z9V6A9Q$388yOFYJcR6av8n/gsgVkK1y97yoFYz167oUMGTUs7Q"
    )


def test_limits_admit_the_exporting_systems_defaults() -> None:
    """Django 5's 1,000,000 PBKDF2 iterations, Werkzeug's 600,000 and scrypt 32768:8:1, passlib's
    scrypt (ln=16, r=8, p=1), bcrypt cost 12, argon2-cffi's defaults (64 MiB, t=3, p=4)."""
    salt, digest = "c2FsdHNhbHQ", "a" * 43
    for stored in (
        "pbkdf2_sha256$1000000$salt$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=",
        f"pbkdf2:sha256:600000$salt${'ab' * 32}",
        f"scrypt:32768:8:1$salt${'ab' * 64}",
        f"$scrypt$ln=16,r=8,p=1${salt}${digest}",
        "$2b$12$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW",
        f"$argon2id$v=19$m=65536,t=3,p=4${salt}${digest}",
    ):
        assert Argon2Hasher(memory_kib=1024, time_cost=1, parallelism=1, concurrency=1).recognizes(stored), stored


def test_the_server_s_own_costlier_settings_stay_recognized() -> None:
    heavy = Argon2Hasher(memory_kib=100_000, time_cost=1, parallelism=1, concurrency=1)
    stored = "$argon2id$v=19$m=100000,t=1,p=1$44QmWVoAu4WYAS5Z9V6A9Q$388yOFYJcR6av8n/gsgVkK1y97yoFYz167oUMGTUs7Q"
    assert heavy.recognizes(stored)
    assert not Argon2Hasher(memory_kib=1024, time_cost=1, parallelism=1, concurrency=1).recognizes(stored)
