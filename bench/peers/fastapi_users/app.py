"""The fastapi-users peer: a minimal FastAPI + fastapi-users app, as its documentation sets one up.

* SQLAlchemy (async) users table from ``fastapi-users-db-sqlalchemy``, on SQLite (aiosqlite) or
  PostgreSQL (asyncpg): ``FU_DATABASE_URL``, e.g. ``sqlite+aiosqlite:////tmp/x/users.db`` or
  ``postgresql+asyncpg://user@127.0.0.1:5432/db``.
* ``POST /auth/register`` (JSON ``{"email", "password"}`` → 201) and ``POST /auth/jwt/login``
  (form ``username``, ``password`` → 200 ``{"access_token", "token_type": "bearer"}``): the bearer
  transport with the JWT strategy (HS256, ``FU_JWT_SECRET``).
* Its password helper is pwdlib's ``Argon2Hasher`` alone, at the parameters given by
  ``FU_ARGON2_MEMORY_KIB``, ``FU_ARGON2_TIME_COST`` and ``FU_ARGON2_PARALLELISM`` (the benchmarks
  pass Tenantry's), so neither side hashes more than the other and no login rehashes.

Run in its own virtualenv (``setup.sh``; pins in ``requirements.txt``), never Tenantry's:

    .venv/bin/python app.py create-tables        # once, before the server starts
    .venv/bin/uvicorn app:app --workers W --host 127.0.0.1 --port PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = os.environ.get("FU_DATABASE_URL", "sqlite+aiosqlite:///./fastapi-users.db")
SECRET = os.environ.get("FU_JWT_SECRET", "change me: a benchmark secret of 32 bytes or more")
PASSWORD_HELPER = PasswordHelper(
    PasswordHash(
        (
            Argon2Hasher(
                memory_cost=int(os.environ.get("FU_ARGON2_MEMORY_KIB", "19456")),
                time_cost=int(os.environ.get("FU_ARGON2_TIME_COST", "2")),
                parallelism=int(os.environ.get("FU_ARGON2_PARALLELISM", "1")),
            ),
        )
    )
)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


engine = create_async_engine(DATABASE_URL)
session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_session)) -> AsyncIterator[SQLAlchemyUserDatabase[Any, Any]]:
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(
    user_db: SQLAlchemyUserDatabase[Any, Any] = Depends(get_user_db),
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db, PASSWORD_HELPER)


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
current_user = fastapi_users.current_user(active=True)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/me")
async def me(user: User = Depends(current_user)) -> dict[str, str]:
    return {"id": str(user.id), "email": user.email}


async def create_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:] != ["create-tables"]:
        sys.exit("usage: python app.py create-tables")
    asyncio.run(create_tables())
