"""The dashboard's Users page on a tenant with a million users: search, filters, sort, paging.

One run, for each ``--users`` size (default 1,000,000), on a fresh PostgreSQL database:

* ``tenantry init`` (migrate, the application, its M2M client), ``tenantry admins create`` (a
  dashboard administrator), then through the core use cases the CLI uses: a big tenant, a second
  tenant, and a second identity provider ("okta-bench", an OKTA provider of the big tenant);
* N users in the big tenant (a tenth of them through the second provider) and N/20 in the second
  tenant, written by ``COPY`` straight into ``users`` (varied names, emails, usernames, statuses
  and creation times), then ``VACUUM ANALYZE`` as autovacuum would do;
* for every case (a query the Users page or the users API sends), ``--runs`` sequential requests
  of each kind, after a warm-up, and their p50/p95/p99:

  - **peer**: the same page and count as hand-written SQL on one psycopg connection (prepared
    statements): what any application on this schema pays at the least;
  - **core**: ``list_tenant_users`` / ``list_application_users`` in-process, parsing included;
  - **API**: ``GET /api/v1/tenants/{id}/users?query=…&sort_by=…`` (or the application's users)
    on a real ``tenantry serve`` (1 worker, plain HTTP, M2M token);
  - **dashboard**: ``GET /dashboard/users?…`` as a signed-in application administrator (HTML).

  The core's and the API's page must hold the peer's ids in the peer's order and the same total,
  else the case counts as an error.

    .venv/bin/python bench/users_page.py [--users 1000000] [--runs 60] [--budget 20]
                                         [--cases first,status,...] [--explain] [--profile]
    .venv/bin/python bench/users_page.py --users 1000,1000000      # growth: one fresh database each

PostgreSQL: the server named by TENANTRY_BENCH_PG_URL, else a throwaway one that
``scripts/pg-test.sh`` starts on port 54339 (and deletes afterwards). Exit status 1 when a request
failed or a page differed from the peer's; missing the aim (p95 ≤ 20 ms) is reported, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from common import (
    RESULTS_DIR,
    Column,
    PostgresServer,
    Server,
    client_credentials_token,
    console,
    free_port,
    host_busy_percent,
    report,
    run_init,
    summarize_collapsed,
    tenantry_command,
    tenantry_env,
)

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.bootstrap import Services, bootstrap
from tenantry.core.access import Principal
from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
)
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import OwnerType
from tenantry.core.tenants.service import CreateTenant, create_tenant
from tenantry.core.users.model import User
from tenantry.core.users.service import list_application_users, list_tenant_users
from tenantry.protocols.query import parse_query, parse_sort
from tenantry.settings import Settings
from tenantry.web.dashboard.rendering import ADMIN_COOKIE

AIM_P95_MS = 20.0
PAGE = 25  # the dashboard's page size
WARMUP = 3
MIN_RUNS = 10
SLOW_RUNS = 3
BUSY_PERCENT = 15.0
SECOND_IDP = "okta-bench"
CSRF = "bench-csrf-" + secrets.token_urlsafe(16)


def _words(text: str, *, names: bool = True) -> tuple[str, ...]:
    """Space-separated words; in names, an underscore joins the words of one name ("de_la_Cruz")."""
    return tuple(word.replace("_", " ") if names else word for word in text.split())


STATUSES = (  # share of users in each status
    ("ACTIVE", 0.70),
    ("PROVISIONED", 0.15),
    ("PENDING_INVITE_ACTIVATION", 0.08),
    ("INACTIVE", 0.05),
    ("PENDING_SIGNUP_ACTIVATION", 0.02),
)
GIVEN = _words(
    "Olivia Emma Amelia Sophia Isabella Ava Mia Charlotte Harper Evelyn Abigail Emily Elizabeth Sofia Avery Ella "
    "Scarlett Grace Chloe Victoria Riley Aria Lily Aubrey Zoey Penelope Lillian Addison Layla Natalie Camila "
    "Hannah Brooklyn Zoe Nora Leah Savannah Audrey Claire Eleanor Skylar Ellie Samantha Stella Paisley Violet "
    "Mila Allison Alexa Anna Hazel Aaliyah Ariana Lucy Caroline Sarah Genesis Kennedy Sadie Gabriella Madelyn "
    "Adeline Maya Liam Noah William James Oliver Benjamin Elijah Lucas Mason Logan Alexander Ethan Jacob Michael "
    "Daniel Henry Jackson Sebastian Aiden Matthew Samuel David Joseph Carter Owen Wyatt John Jack Luke Jayden "
    "Dylan Grayson Levi Isaac Gabriel Julian Mateo Anthony Jaxon Lincoln Joshua Christopher Andrew Theodore "
    "Caleb Ryan Asher Nathan Thomas Leo Isaiah Charles Josiah Hudson Christian Hunter Connor Eli Ezra Aaron "
    "Landon Adrian Jonathan Nolan Jeremiah Easton Elias Colton Cameron Carson Robert Angel Maverick Nicholas "
    "Dominic Jaxson Greyson Adam Ian Austin Santiago Jordan Cooper Brayden Roman Evan Ezekiel Xavier Jose Jace "
    "Jameson Leonardo Bryson Axel Everett Parker Kayden Miles Sawyer Jason Chloé Zoë José Anaïs Søren Björn "
    "Renée Hélène Mónica Iñaki Łukasz Aiko Haruto Yuki Sakura Wei Jie Min-jun Seo-yeon Priya Arjun Aditya "
    "Fatima Omar Yusuf Amina Chidi Ngozi Kwame Ama Thabo Lerato"
)
FAMILY = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall "
    "Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes "
    "Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard "
    "Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price "
    "Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell "
    "Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton "
    "Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar "
    "Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells "
    "Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez "
    "Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone "
    "Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan "
    "Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Peters Santos Hart Bradley Knight "
    "Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins "
    "Hoffman Johnston Matthews Pena Richards Willis Carpenter Lawrence Sandoval Müller Schäfer Größe Dubois "
    "Lefèvre Østergaard Nakamura Tanaka Suzuki Watanabe Yamamoto Sato Wang Li Zhang Liu Yang Huang Zhao "
    "Kowalski Nowak Wiśniewski Novák Svoboda Horváth Nagy Popescu Ivanov Petrov Smirnov Kuznetsov Okafor "
    "Mensah Abubakar Singh Kumar Sharma Gupta Khan Ali Hussain Rahman da_Costa de_la_Cruz van_der_Berg O'Brien"
)
DOMAINS = ("example.com", "mail.example.org", "acme.example", "corp.example.net", "example.co.uk", "uni.example.edu")
DASHBOARD_NAME = "Nakamura"  # a family name; its share of users is about 1 / len(FAMILY)


def ascii_fold(text: str) -> str:
    """Emails and usernames from names: accents dropped, only ``[a-z0-9.'-]`` kept."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(c for c in folded if c.isalnum() or c in ".-")


# --------------------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--users", default="1000000", help="users in the big tenant; comma-separated sizes for growth (1000,1000000)"
    )
    parser.add_argument("--runs", type=int, default=60, help="measured requests per case and kind (default 60)")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds per case and kind after which to stop (min 10 runs)"
    )
    parser.add_argument("--cases", default="", help=f"comma-separated subset of: {', '.join(c.key for c in CASES)}")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the core's statements")
    parser.add_argument("--profile", action="store_true", help="record the server with py-spy during the API runs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded database and print its URL (with TENANTRY_BENCH_PG_URL)"
    )
    parser.add_argument(
        "--reuse", metavar="URL", default="", help="measure a database kept by --keep (migrated first), no seeding"
    )
    parser.add_argument("--no-http", action="store_true", help="peer and core only: no server")
    parser.add_argument(
        "--wait-idle", type=float, default=0.0, metavar="SECONDS", help="wait up to SECONDS for an idle machine"
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in str(args.users).split(",") if s.strip()]
    except ValueError:
        parser.error("--users takes integers")
    if not args.sizes or min(args.sizes) < 100:
        parser.error("--users: at least 100")
    known = {c.key for c in CASES}
    args.case_keys = [k.strip() for k in args.cases.split(",") if k.strip()] or [c.key for c in CASES]
    if unknown := set(args.case_keys) - known:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    if args.runs < 1:
        parser.error("--runs must be positive")
    if args.reuse and len(args.sizes) > 1:
        parser.error("--reuse measures one database: give one --users size")
    return args


# --------------------------------------------------------------------------- the cases


def user_query(search: str, status: str) -> str | None:
    """The expression the dashboard's Users page builds from its search box and status filter
    (``tenantry.web.dashboard``): the term as a prefix of email, username, given or family name.
    The dashboard's pages are checked to show the same users as the peer's."""
    parts: list[str] = []
    if search:
        q = '"' + search.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"(email sw {q} or username sw {q} or givenName sw {q} or familyName sw {q})")
    if status:
        parts.append(f'status eq "{status}"')
    return " and ".join(parts) or None


@dataclass(frozen=True)
class Seeded:
    """What the seeding produced: ids, sizes and the search terms the cases use."""

    application_id: str
    tenant_id: str
    other_tenant_id: str
    provider_id: str
    second_provider_id: str
    users: int
    other_users: int
    email_prefix: str
    seconds: float


@dataclass(frozen=True)
class Case:
    """One Users-page query.

    ``search``/``status`` are the dashboard's search box and status filter; the API and the core
    get the expression the dashboard builds from them (``user_query``), plus ``extra`` (filters the
    dashboard does not offer). ``sort`` is ``attribute:direction``; ``start`` the 1-based index of
    the first user (from the tenant's size). ``tenant``: False lists the whole application."""

    key: str
    title: str
    search: Callable[[Seeded], str] = lambda s: ""
    status: str = ""
    extra: str = ""
    sort: str = "email:asc"
    start: Callable[[int], int] = lambda n: 1
    tenant: bool = True
    dashboard: bool = True

    def expression(self, seeded: Seeded) -> str | None:
        base = user_query(self.search(seeded), self.status)
        parts = [p for p in (base, self.extra) if p]
        return " and ".join(parts) or None


CASES: tuple[Case, ...] = (
    Case("first", "no filter, first page (email)"),
    Case("status", "status INACTIVE (5%), email", status="INACTIVE"),
    Case("active", "status ACTIVE (70%), family name", status="ACTIVE", sort="familyName:asc"),
    Case("prefix", "search: email prefix", search=lambda s: s.email_prefix),
    Case("short", "search: 2-letter prefix 'ma'", search=lambda s: "ma"),
    Case("name", f"search: name '{DASHBOARD_NAME}'", search=lambda s: DASHBOARD_NAME),
    Case("family", "sort by family name", sort="familyName:asc"),
    Case("created", "sort by created, newest first", sort="creationTime:desc"),
    Case("deep", "deep page (middle), email", start=lambda n: (n // 2) // PAGE * PAGE + 1),
    Case("idp", f"identity provider '{SECOND_IDP}'", extra=f'identityProviderName eq "{SECOND_IDP}"', dashboard=False),
    Case("all", "all tenants, first page (email)", tenant=False),
)


# --------------------------------------------------------------------------- seeding


def operator(application_id: str) -> Principal:
    return Principal.operator(application_id)


def prepare(services: Services, application_id: str) -> tuple[str, str, str, str]:
    """The big tenant, a second tenant, and their identity providers (built-in, and an OKTA one
    of the big tenant): the tenants through the Create Tenant use case, the provider through the
    repository (the SSO pages that will create them are not needed here)."""
    actor = operator(application_id)
    suffix = secrets.token_hex(3)
    big = create_tenant(services.core, actor, CreateTenant(domain_name=f"big{suffix}", display_name="Big tenant"))
    other = create_tenant(
        services.core, actor, CreateTenant(domain_name=f"other{suffix}", display_name="Second tenant")
    )
    now = services.core.clock.now()
    second_id = new_id()
    with services.core.uow(application_id, write=True) as uow:
        builtin = uow.identity_providers.get_by_name("wristband", big.id)
        if builtin is None:
            raise RuntimeError("the application has no built-in 'wristband' identity provider")
        uow.identity_providers.add(
            IdentityProvider(
                id=second_id,
                application_id=application_id,
                owner_type=OwnerType.TENANT,
                owner_id=big.id,
                type=IdentityProviderType.OKTA,
                name=SECOND_IDP,
                display_name="Okta (benchmark)",
                status=IdentityProviderStatus.ENABLED,
                jit_provisioning_enabled=True,
                metadata=EntityMetadata.new(now),
            )
        )
        uow.commit()
    return big.id, other.id, builtin.id, second_id


def _pick_status(rng: random.Random) -> str:
    x = rng.random()
    for status, share in STATUSES:
        if x < share:
            return status
        x -= share
    return STATUSES[0][0]


def _ts(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def user_lines(
    rng: random.Random,
    *,
    start: int,
    count: int,
    application_id: str,
    tenant_id: str,
    providers: Sequence[tuple[str, float]],
    password_hash: str,
    first: datetime,
    span: timedelta,
) -> Iterator[str]:
    """``count`` users as COPY text lines, in the column order of ``COPY_COLUMNS``. ``i`` (from
    ``start``) is in every email and username, which keeps them unique."""
    step = span / max(count, 1)
    for n in range(count):
        i = start + n
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        g, f = ascii_fold(given), ascii_fold(family)
        shape = rng.randrange(5)
        local = (
            f"{g}.{f}{i}",
            f"{g[:1]}{f}{i}",
            f"{f}_{g}{i}",
            f"{g}{i}",
            f"{g}.{f[:1]}.{i}",
        )[shape]
        domain = rng.choice(DOMAINS)
        email = f"{local}@{domain}"
        if rng.random() < 0.2:  # some people type their address capitalised
            email = email[:1].upper() + email[1:]
        username = f"{g}{f}{i}" if rng.random() < 0.3 else None
        provider_id = providers[0][0] if rng.random() >= providers[1][1] else providers[1][0]
        external_id = f"00u{i:012d}" if provider_id == providers[1][0] else None
        status = _pick_status(rng)
        created = first + step * n + timedelta(seconds=rng.randrange(0, 3600))
        updated = created + timedelta(days=rng.randrange(0, 30))
        active = status == "ACTIVE"
        verified = active or rng.random() < 0.1
        profile = '{"locale": "en-US"}' if rng.random() < 0.3 else "{}"
        values = (
            new_id(),
            application_id,
            tenant_id,
            provider_id,
            email,
            email.lower(),
            "t" if verified else "f",
            username or "\\N",
            username.lower() if username else "\\N",
            external_id or "\\N",
            f"{given} {family}",
            given,
            family,
            profile,
            status,
            password_hash if active else "\\N",
            "{}",
            "{}",
            _ts(created),
            _ts(updated),
            "1",
            _ts(created + timedelta(days=1) if active else None),
            _ts(updated if status == "INACTIVE" else None),
            _ts(created + timedelta(hours=1) if verified else None),
            "0",
            "\\N",
        )
        yield "\t".join(values) + "\n"


COPY_COLUMNS = _words(
    "id application_id tenant_id identity_provider_id email email_key email_verified username username_key "
    "external_id full_name given_name family_name profile status password_hash public_metadata "
    "restricted_metadata created_at updated_at version activated_at deactivated_at verified_at failed_logins "
    "locked_until",
    names=False,
)


def check_copy_columns() -> None:
    """Every NOT NULL column of ``users`` without a server default must be written by the COPY."""
    missing = [
        c.name for c in t.users.columns if c.name not in COPY_COLUMNS and not c.nullable and c.server_default is None
    ]
    unknown = [name for name in COPY_COLUMNS if name not in t.users.columns]
    if missing or unknown:
        raise RuntimeError(f"users table changed: not written {missing}, no longer there {unknown}")


def seed(services: Services, database_url: str, application_id: str, users: int) -> Seeded:
    """Create the tenants and providers, COPY the users, VACUUM ANALYZE."""
    import psycopg

    check_copy_columns()
    started = time.perf_counter()
    tenant_id, other_id, builtin_id, second_id = prepare(services, application_id)
    password_hash = services.core.hasher.hash("Bench-" + secrets.token_urlsafe(12))
    rng = random.Random(20261124)
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=3 * 365)
    other_users = max(users // 20, 1)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    sql = f"COPY users ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    batches = (
        (tenant_id, users, ((builtin_id, 0.0), (second_id, 0.1)), 0),
        (other_id, other_users, ((builtin_id, 0.0), (second_id, 0.0)), users),
    )
    with psycopg.connect(dsn, autocommit=False) as conn:
        for target, count, providers, first_index in batches:
            with conn.cursor() as cur, cur.copy(sql) as copy:
                chunk: list[str] = []
                for line in user_lines(
                    rng,
                    start=first_index,
                    count=count,
                    application_id=application_id,
                    tenant_id=target,
                    providers=providers,
                    password_hash=password_hash,
                    first=now - span,
                    span=span,
                ):
                    chunk.append(line)
                    if len(chunk) >= 20_000:
                        copy.write("".join(chunk))
                        chunk.clear()
                if chunk:
                    copy.write("".join(chunk))
            conn.commit()
            console.print(f"  copied {count:,} users ({time.perf_counter() - started:.0f} s)")
    vacuum(dsn)
    seconds = time.perf_counter() - started
    console.print(f"  seeded and vacuumed in {seconds:.0f} s")
    return Seeded(
        application_id,
        tenant_id,
        other_id,
        builtin_id,
        second_id,
        users,
        other_users,
        email_prefix(dsn, tenant_id),
        seconds,
    )


def email_prefix(dsn: str, tenant_id: str) -> str:
    """A prefix of a real email of the big tenant ("given.fam"), narrow enough to match a handful."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT email_key FROM users WHERE tenant_id = %s AND split_part(email_key, '@', 1) LIKE '%%.%%' "
            "ORDER BY id LIMIT 1",
            (tenant_id,),
        ).fetchone()
    assert row is not None
    local = str(row[0]).split("@")[0]
    return local[: local.index(".") + 4]


def find_seeded(dsn: str, application_id: str) -> Seeded:
    """The tenants, providers and sizes of a database seeded by an earlier run (``--keep``)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        tenants: dict[str, str] = dict(
            conn.execute("SELECT display_name, id FROM tenants WHERE application_id = %s", (application_id,)).fetchall()
        )
        big, other = tenants["Big tenant"], tenants["Second tenant"]
        builtin = conn.execute(
            "SELECT id FROM identity_providers WHERE application_id = %s AND name_key = 'wristband'",
            (application_id,),
        ).fetchone()
        second = conn.execute(
            "SELECT id FROM identity_providers WHERE application_id = %s AND name_key = %s",
            (application_id, SECOND_IDP),
        ).fetchone()
        sizes: dict[str, int] = dict(
            conn.execute("SELECT tenant_id, count(*) FROM users GROUP BY tenant_id").fetchall()
        )
    assert builtin is not None and second is not None
    return Seeded(
        application_id, big, other, builtin[0], second[0], sizes[big], sizes.get(other, 0), email_prefix(dsn, big), 0.0
    )


def vacuum(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) users")
        conn.execute("VACUUM (ANALYZE) identity_providers")


# --------------------------------------------------------------------------- the four ways to ask


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def pct(self, p: float) -> float | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < 3:
            self.samples.append(text)


def measure(call: Callable[[], Any], runs: int, budget: float, timings: Timings) -> None:
    """``runs`` timed calls after the warm-up, fewer once ``budget`` seconds are spent (at least
    MIN_RUNS; SLOW_RUNS when a call takes over a second: before the indexes, some took ten)."""
    t0 = time.perf_counter()
    call()
    slow = time.perf_counter() - t0 > 1.0
    for _ in range(0 if slow else WARMUP - 1):
        call()
    floor = SLOW_RUNS if slow else MIN_RUNS
    deadline = time.perf_counter() + budget
    for n in range(runs):
        if n >= floor and time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        call()
        timings.seconds.append(time.perf_counter() - t0)


def _sort_sql(sort: str) -> str:
    attribute, _, direction = sort.partition(":")
    column = {"email": "email_key", "familyName": "family_name", "creationTime": "created_at"}[attribute]
    return f"u.{column} DESC NULLS FIRST, u.id" if direction == "desc" else f"u.{column} ASC NULLS LAST, u.id"


class Peer:
    """The same page and total as hand-written SQL: a count and a page (users joined to their
    identity provider, as the application needs both), on one psycopg connection. Not prepared:
    a generic plan cannot use an index for ``LIKE $1``, so each statement gets its own plan."""

    def __init__(self, dsn: str, seeded: Seeded) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)
        self.seeded = seeded

    def close(self) -> None:
        self.conn.close()

    def where(self, case: Case) -> tuple[str, dict[str, Any]]:
        s = self.seeded
        # A tenant's users are its application's: a hand-written query names the tenant alone.
        clauses = ["u.tenant_id = %(tenant)s" if case.tenant else "u.application_id = %(app)s"]
        params: dict[str, Any] = {"tenant": s.tenant_id} if case.tenant else {"app": s.application_id}
        term = case.search(s)
        if term:
            clauses.append(
                "(u.email_key LIKE %(lower)s OR u.username_key LIKE %(lower)s"
                " OR u.given_name LIKE %(term)s OR u.family_name LIKE %(term)s)"
            )
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params |= {"lower": escaped.lower() + "%", "term": escaped + "%"}
        if case.status:
            clauses.append("u.status = %(status)s")
            params["status"] = case.status
        if case.extra:  # only the identity-provider case: resolved to the provider's id
            clauses.append("u.identity_provider_id = %(idp)s")
            params["idp"] = s.second_provider_id
        return " AND ".join(clauses), params

    def statements(self, case: Case, start: int) -> tuple[str, str, dict[str, Any]]:
        where, params = self.where(case)
        count = f"SELECT count(*) FROM users u WHERE {where}"
        page = (
            "SELECT u.id, u.email, u.*, i.name AS idp_name, i.type AS idp_type FROM users u "
            f"JOIN identity_providers i ON i.id = u.identity_provider_id WHERE {where} "
            f"ORDER BY {_sort_sql(case.sort)} LIMIT {PAGE} OFFSET %(offset)s"
        )
        return count, page, {**params, "offset": start - 1}

    def run(self, case: Case, start: int) -> tuple[int, list[str], list[str]]:
        """(total, ids, emails) of the page."""
        count, page, params = self.statements(case, start)
        total = self.conn.execute(count, params, prepare=False).fetchone()
        rows = self.conn.execute(page, params, prepare=False).fetchall()
        return int(total[0]) if total else 0, [r[0] for r in rows], [r[1] for r in rows]

    def run_page(self, case: Case, start: int) -> None:
        _, page, params = self.statements(case, start)
        self.conn.execute(page, params, prepare=False).fetchall()

    def run_count(self, case: Case, start: int) -> None:
        count, _, params = self.statements(case, start)
        self.conn.execute(count, params, prepare=False).fetchone()


def core_call(services: Services, seeded: Seeded, case: Case, start: int) -> Callable[[], Page[User]]:
    actor = operator(seeded.application_id)

    def call() -> Page[User]:
        text = case.expression(seeded)
        spec = ListSpec(
            filter=parse_query(text, USER_LISTING.attributes) if text else None,
            sort=parse_sort(case.sort, USER_LISTING.attributes),
            start_index=start,
            count=PAGE,
        )
        if case.tenant:
            return list_tenant_users(services.core, actor, seeded.tenant_id, spec)
        return list_application_users(services.core, actor, seeded.application_id, spec)

    return call


def api_path(seeded: Seeded, case: Case, start: int) -> str:
    params = {"sort_by": case.sort, "start_index": str(start), "count": str(PAGE)}
    if text := case.expression(seeded):
        params["query"] = text
    where = f"tenants/{seeded.tenant_id}" if case.tenant else f"applications/{seeded.application_id}"
    return f"/api/v1/{where}/users?{urlencode(params)}"


def dashboard_path(seeded: Seeded, case: Case, start: int) -> str:
    attribute, _, direction = case.sort.partition(":")
    params = {"sort": attribute, "dir": direction, "per": str(PAGE), "page": str((start - 1) // PAGE + 1)}
    if case.tenant:
        params["tenant"] = seeded.tenant_id
    if term := case.search(seeded):
        params["q"] = term
    if case.status:
        params["status"] = case.status
    return f"/dashboard/users?{urlencode(params)}"


def dashboard_sign_in(client: httpx.Client, email: str, password: str) -> str:
    """The real sign-in form (CSRF cookie + field); returns the session cookie's value. The
    cookies are ``Secure``, so over plain HTTP they are carried by hand."""
    response = client.post(
        "/dashboard/login",
        content=urlencode({"csrf_token": CSRF, "email": email, "password": password}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"tenantry_csrf={CSRF}"},
    )
    session = response.cookies.get(ADMIN_COOKIE)
    if response.status_code != 303 or not session:
        raise RuntimeError(f"dashboard sign-in failed: {response.status_code} {response.text[:300]}")
    return session


# --------------------------------------------------------------------------- one size


@dataclass
class CaseResult:
    case: Case
    start: int
    total: int = 0
    emails: list[str] = field(default_factory=list)
    peer: Timings = field(default_factory=Timings)
    peer_page: Timings = field(default_factory=Timings)
    peer_count: Timings = field(default_factory=Timings)
    core: Timings = field(default_factory=Timings)
    api: Timings = field(default_factory=Timings)
    dashboard: Timings = field(default_factory=Timings)

    def row(self, users: int) -> dict[str, Any]:
        peer50, api50 = self.peer.pct(50), self.api.pct(50)
        api95 = self.api.pct(95)
        return {
            "users": users,
            "case": self.case.key,
            "title": self.case.title,
            "matched": self.total,
            "start": self.start,
            "peerPage50": self.peer_page.pct(50),
            "peerCount50": self.peer_count.pct(50),
            "peer50": peer50,
            "peer95": self.peer.pct(95),
            "core50": self.core.pct(50),
            "core95": self.core.pct(95),
            "core99": self.core.pct(99),
            "api50": api50,
            "api95": api95,
            "api99": self.api.pct(99),
            "dash50": self.dashboard.pct(50),
            "dash95": self.dashboard.pct(95),
            "dash99": self.dashboard.pct(99),
            "ratio": api50 / peer50 if api50 and peer50 else None,
            "aim": None if api95 is None else ("yes" if api95 <= AIM_P95_MS else "no"),
            "runs": len(self.api.seconds) or len(self.core.seconds),
            "errors": self.peer.errors + self.core.errors + self.api.errors + self.dashboard.errors,
            "samples": self.peer.samples + self.core.samples + self.api.samples + self.dashboard.samples,
        }


def explain(services: Services, call: Callable[[], Any], title: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement ``call`` sends (captured from the engine)."""
    from sqlalchemy import event

    engine = services.database.read_engine
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    console.print(f"[bold]EXPLAIN {title}[/bold]")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in captured:
            if "FROM users" not in statement:
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            console.print(statement, markup=False, highlight=False)
            console.print("\n".join("   " + r[0] for r in cursor.fetchall()), markup=False, highlight=False)
        raw.rollback()
    finally:
        raw.close()


def kept_domain(database_url: str) -> str:
    """The vanity domain (127.0.0.1:PORT) of the one application in a kept database."""
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT vanity_domain FROM applications").fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"--reuse: expected one application, found {len(rows)}")
    return str(rows[0][0])


def bench_size(pg: PostgresServer, users: int, args: argparse.Namespace, notes: list[str]) -> list[CaseResult]:
    database_url = args.reuse or pg.create_database("users_page")
    if args.keep and not args.reuse:
        pg.keep(database_url)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    cases = [c for c in CASES if c.key in args.case_keys]
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="tenantry-bench-users-") as tmp:
        data_dir = Path(tmp)
        domain = kept_domain(database_url) if args.reuse else f"127.0.0.1:{free_port()}"
        port = int(domain.rsplit(":", 1)[1])
        env = tenantry_env(data_dir, database_url, log_level="WARNING")
        console.print(f"[bold]{users:,} users[/bold]: init application {domain}")
        migrated = time.perf_counter()
        # On a kept database: migrate (timed: new indexes are built here) and issue a new M2M secret.
        app = run_init(env, domain, rotate_secret=bool(args.reuse))
        if args.reuse:
            notes.append(f"reused database: init (migrations included) took {time.perf_counter() - migrated:.1f} s")
        admin_email = f"bench-admin-{secrets.token_hex(4)}@example.com"
        admin_password = "Bench-" + secrets.token_urlsafe(16)
        created = subprocess.run(
            tenantry_command("admins", "create", "--email", admin_email, "--password", admin_password),
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if created.returncode != 0:
            raise RuntimeError(f"tenantry admins create failed:\n{created.stderr}{created.stdout}")
        services = bootstrap(Settings(data_dir=data_dir, database_url=database_url), migrate=False)
        peer: Peer | None = None
        try:
            if args.reuse:
                seeded = find_seeded(dsn, app.application_id)
            else:
                seeded = seed(services, database_url, app.application_id, users)
                notes.append(
                    f"{users:,} users: seeded by COPY + VACUUM ANALYZE in {seeded.seconds:.0f} s "
                    f"({seeded.users + seeded.other_users:,} rows; email-prefix search term '{seeded.email_prefix}')."
                )
            peer = Peer(dsn, seeded)
            for case in cases:
                start = case.start(seeded.users)
                result = CaseResult(case, start)
                results.append(result)
                total, ids, emails = peer.run(case, start)
                result.total, result.emails = total, emails
                measure(lambda c=case, s=start: peer.run(c, s), args.runs, args.budget, result.peer)  # type: ignore[misc]
                measure(lambda c=case, s=start: peer.run_page(c, s), args.runs, args.budget / 2, result.peer_page)  # type: ignore[misc]
                measure(lambda c=case, s=start: peer.run_count(c, s), args.runs, args.budget / 2, result.peer_count)  # type: ignore[misc]
                call = core_call(services, seeded, case, start)
                page = call()
                got = [u.id for u in page.items]
                if got != ids or page.total != total:
                    result.core.error(f"core page differs from the peer's: total {page.total} vs {total}")
                if args.explain:
                    explain(services, call, f"{case.key}: {case.title}")
                measure(call, args.runs, args.budget, result.core)
                console.print(
                    f"  {case.key:8} matched {total:>9,}  peer p50 {result.peer.pct(50):7.1f} ms"
                    f"  core p50 {result.core.pct(50):7.1f} ms"
                )
            peer.close()
            peer = None
            if args.no_http:
                return results
            with Server(env, port=port, workers=1, log_path=data_dir / "serve.log") as server:
                token = client_credentials_token(server.base_url, app.client_id, app.client_secret)
                with httpx.Client(base_url=server.base_url, timeout=120) as client:
                    session = dashboard_sign_in(client, admin_email, admin_password)
                    api_headers = {"Authorization": f"Bearer {token}"}
                    dash_headers = {"Cookie": f"{ADMIN_COOKIE}={session}; tenantry_csrf={CSRF}"}
                    profile_to = RESULTS_DIR / f"users_page-{users}.pyspy.txt" if args.profile else None
                    spy = server.py_spy(profile_to) if profile_to else contextlib.nullcontext()
                    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                    with spy:
                        for result in results:
                            http_runs(client, seeded, result, api_headers, dash_headers, args)
                    if profile_to is not None and profile_to.exists():
                        print_profile(profile_to)
                if any(r.api.errors or r.dashboard.errors for r in results):
                    console.print(f"  server log tail:\n{server.log_tail(30)}")
        finally:
            if peer is not None:
                peer.close()
            services.close()
            if args.keep and not args.reuse:
                console.print(f"  kept database (--reuse it): {database_url}")
    return results


def http_runs(
    client: httpx.Client,
    seeded: Seeded,
    result: CaseResult,
    api_headers: dict[str, str],
    dash_headers: dict[str, str],
    args: argparse.Namespace,
) -> None:
    case, start = result.case, result.start
    path = api_path(seeded, case, start)
    first = client.get(path, headers=api_headers)
    if first.status_code != 200:
        result.api.error(f"API {first.status_code}: {first.text[:300]}")
    else:
        doc = first.json()
        if doc["totalResults"] != result.total:
            result.api.error(f"API totalResults {doc['totalResults']} vs peer {result.total}")

    def api() -> None:
        response = client.get(path, headers=api_headers)
        if response.status_code != 200:
            result.api.error(f"API {response.status_code}: {response.text[:200]}")

    measure(api, args.runs, args.budget, result.api)
    if not case.dashboard:
        return
    dash = dashboard_path(seeded, case, start)
    shown = client.get(dash, headers=dash_headers)
    missing = [e for e in result.emails if html.escape(e) not in shown.text]
    if shown.status_code != 200 or missing:
        result.dashboard.error(f"dashboard {shown.status_code}: {len(missing)} of the peer's users not shown")

    def dashboard() -> None:
        response = client.get(dash, headers=dash_headers)
        if response.status_code != 200:
            result.dashboard.error(f"dashboard {response.status_code}: {response.text[:200]}")

    measure(dashboard, args.runs, args.budget, result.dashboard)
    console.print(
        f"  {case.key:8} API p50 {result.api.pct(50):7.1f} ms p95 {result.api.pct(95):7.1f} ms"
        f"   dashboard p50 {result.dashboard.pct(50) or 0:7.1f} ms"
    )


def print_profile(path: Path) -> None:
    summary = summarize_collapsed(path, top=25)
    samples = max(int(summary["samples"]), 1)
    console.print(
        f"  py-spy: {samples} samples of threads holding the GIL ({path.relative_to(RESULTS_DIR.parent.parent)})"
    )
    for frame, count in summary["self"][:20]:
        console.print(f"    {100 * count / samples:5.1f}%  {frame}", markup=False, highlight=False)


# --------------------------------------------------------------------------- main

COLUMNS = [
    Column("users", "users", "{:,}"),
    Column("title", "case"),
    Column("matched", "matched", "{:,}"),
    Column("peerPage50", "peer page p50", "{:.1f}"),
    Column("peerCount50", "peer count p50", "{:.1f}"),
    Column("peer50", "peer p50", "{:.1f}"),
    Column("peer95", "peer p95", "{:.1f}"),
    Column("core50", "core p50", "{:.1f}"),
    Column("core95", "core p95", "{:.1f}"),
    Column("api50", "API p50", "{:.1f}"),
    Column("api95", "API p95", "{:.1f}"),
    Column("api99", "API p99", "{:.1f}"),
    Column("dash50", "dash p50", "{:.1f}"),
    Column("dash95", "dash p95", "{:.1f}"),
    Column("dash99", "dash p99", "{:.1f}"),
    Column("ratio", "API/peer p50", "{:.1f}"),
    Column("aim", "API p95 ≤ 20"),
    Column("errors", "errors"),
]


def growth_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sizes = sorted({r["users"] for r in rows})
    by_case: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = by_case.setdefault(r["case"], {"title": r["title"]})
        entry[f"api50_{r['users']}"] = r["api50"]
        entry[f"peer50_{r['users']}"] = r["peer50"]
    out = []
    for entry in by_case.values():
        low, high = entry.get(f"api50_{sizes[0]}"), entry.get(f"api50_{sizes[-1]}")
        entry["growth"] = high / low if low and high else None
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    meta: dict[str, Any] = {"sizes": args.sizes, "runs": args.runs, "budget": args.budget, "page": PAGE}
    with PostgresServer(os.environ.get("TENANTRY_BENCH_PG_URL") or None) as pg:
        meta["postgresql"] = pg.version()
        for users in args.sizes:
            busy = host_busy_percent(2.0)
            waited = time.monotonic()
            while busy > BUSY_PERCENT and time.monotonic() - waited < args.wait_idle:
                time.sleep(5.0)
                busy = host_busy_percent(2.0)
            if busy > BUSY_PERCENT:
                notes.append(f"{users:,} users: the machine was {busy:.0f}% busy before the run.")
            for result in bench_size(pg, users, args, notes):
                row = result.row(users)
                rows.append(row)
                for sample in row["samples"]:
                    console.print(f"    [red]{result.case.key}[/red]: {sample}")
    notes += [
        f"Milliseconds; {PAGE} users a page; sequential requests (one at a time), p50/p95/p99 over up to "
        f"{args.runs} runs per case and kind (fewer when a case's {args.budget:.0f} s budget ran out: at least "
        f"{MIN_RUNS}, or {SLOW_RUNS} when a call took over a second) after {WARMUP} warm-up runs (1 when slow).",
        "peer: the same count + page as hand-written SQL (psycopg, not prepared); peer page / count: each alone. "
        "core: list_tenant_users in-process. API: GET /api/v1/tenants/{id}/users on tenantry serve (1 worker). "
        "dash: GET /dashboard/users (HTML) as an application administrator; its total is exact up to the "
        "dashboard's bound, then estimated (where the tree has one). API/peer: p50 ratio.",
        "Searches are the dashboard's: the term as a prefix of email, username, given name or family name.",
    ]
    report("users_page", "Users page on a big tenant (PostgreSQL)", COLUMNS, rows, meta=meta, notes=notes)
    if len(args.sizes) > 1:
        sizes = sorted(args.sizes)
        growth_columns = [Column("title", "case")]
        for size in sizes:
            growth_columns += [
                Column(f"peer50_{size}", f"peer p50 {size:,}", "{:.1f}"),
                Column(f"api50_{size}", f"API p50 {size:,}", "{:.1f}"),
            ]
        growth_columns.append(Column("growth", f"API p50 growth ({sizes[-1] // sizes[0]:,} x users)", "{:.1f}x"))
        report("users_page_growth", "Users page: growth with the tenant's size", growth_columns, growth_rows(rows))
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    errors = sum(r["errors"] for r in rows)
    if errors:
        console.print(f"[red]{errors} error(s)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
