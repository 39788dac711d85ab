"""The run's settings, resolved once: command-line options over environment variables over defaults.

Every entry point (the pytest plugin, ``convequiv check``, ``convequiv hunt``) builds one
:class:`Settings` with :func:`resolve`, so they share names, defaults and validation:

=====================  ==================================  =====================================
setting                environment variable                default
=====================  ==================================  =====================================
``adapters``           ``CONVEQUIV_ADAPTERS``              every installed adapter (``none``: no adapter)
``profile``            ``CONVEQUIV_PROFILE``               ``ci`` (derandomized, 100 examples per property)
``compiled_examples``  ``CONVEQUIV_COMPILED_EXAMPLES``     from the profile (:data:`COMPILED_EXAMPLES`)
``strict``             ``CONVEQUIV_STRICT_DIVERGENCES=1``  off
``results``            ``CONVEQUIV_RESULTS``               none
``database``           ``CONVEQUIV_DATABASE``              none in pytest (Hypothesis' own choice); a
                                                           per-user cache folder for ``convequiv check``
=====================  ==================================  =====================================

Profiles (Hypothesis settings; :data:`PROFILES`): ``dev`` 25 examples per property, random;
``ci`` 100, derandomized (the same examples on every run and machine); ``thorough`` 500 and
``nightly`` 3000, random.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict


class Profile(TypedDict):
    """Hypothesis settings of a profile."""

    max_examples: int
    derandomize: NotRequired[bool]


#: Examples per property and whether the draw is derandomized, per profile.
PROFILES: dict[str, Profile] = {
    "dev": {"max_examples": 25},
    "ci": {"max_examples": 100, "derandomize": True},
    "thorough": {"max_examples": 500},
    "nightly": {"max_examples": 3000},
}
DEFAULT_PROFILE = "ci"
#: Examples per property for adapters that compile every case (``Adapter.compiles_per_case``).
COMPILED_EXAMPLES = {"dev": 10, "ci": 100, "thorough": 200, "nightly": 600}

ENVIRONMENT = {
    "adapters": "CONVEQUIV_ADAPTERS",
    "profile": "CONVEQUIV_PROFILE",
    "compiled_examples": "CONVEQUIV_COMPILED_EXAMPLES",
    "strict": "CONVEQUIV_STRICT_DIVERGENCES",
    "results": "CONVEQUIV_RESULTS",
    "database": "CONVEQUIV_DATABASE",
}


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the option and the variable."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one run (see the module docstring)."""

    adapters: tuple[str, ...] | None = None  # None: every installed adapter
    profile: str = DEFAULT_PROFILE
    compiled_examples: int | None = None
    strict: bool = False
    results: Path | None = None
    database: Path | None = None

    @property
    def explicit_adapters(self) -> bool:
        return self.adapters is not None

    @property
    def max_examples(self) -> int:
        return PROFILES[self.profile]["max_examples"]

    @property
    def examples_when_compiling(self) -> int:
        """Examples per property for adapters that compile every case."""
        return self.compiled_examples if self.compiled_examples is not None else COMPILED_EXAMPLES[self.profile]

    def environment(self) -> dict[str, str]:
        """The environment variables that carry these settings into a child process."""
        env = {ENVIRONMENT["profile"]: self.profile}
        if self.adapters is not None:
            env[ENVIRONMENT["adapters"]] = ",".join(self.adapters) or "none"
        if self.compiled_examples is not None:
            env[ENVIRONMENT["compiled_examples"]] = str(self.compiled_examples)
        if self.strict:
            env[ENVIRONMENT["strict"]] = "1"
        if self.results is not None:
            env[ENVIRONMENT["results"]] = str(self.results)
        if self.database is not None:
            env[ENVIRONMENT["database"]] = str(self.database)
        return env


def parse_adapters(raw: str | None) -> tuple[str, ...] | None:
    """``"torch, keras[jax]"`` -> ``("torch", "keras[jax]")``; ``"none"`` or ``""`` -> ``()``."""
    if raw is None:
        return None
    if raw.strip().lower() in ("", "none"):
        return ()
    return tuple(s.strip() for s in raw.split(",") if s.strip())


def resolve(options: Mapping[str, object | None] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from explicit ``options`` (keys as :class:`Settings` fields; ``None`` = not given),
    then the environment, then the defaults."""
    options = options or {}
    env = os.environ if env is None else env

    def given(name: str) -> object | None:
        value = options.get(name)
        if value is None or value is False:
            raw = env.get(ENVIRONMENT[name])
            return raw if raw not in (None, "") else value
        return value

    profile = str(given("profile") or DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise SettingsError(
            f"profile {profile!r} (--profile / {ENVIRONMENT['profile']}) is not one of {', '.join(PROFILES)}"
        )
    compiled = given("compiled_examples")
    if compiled is not None:
        try:
            compiled = int(compiled)  # type: ignore[call-overload]
        except ValueError:
            raise SettingsError(f"compiled examples must be an int, got {compiled!r}") from None
        if compiled < 1:
            raise SettingsError(f"compiled examples (--compiled-examples) must be at least 1, got {compiled}")
    adapters = given("adapters")
    strict = given("strict")
    results, database = given("results"), given("database")
    return Settings(
        adapters=adapters if isinstance(adapters, tuple) else parse_adapters(adapters),  # type: ignore[arg-type]
        profile=profile,
        compiled_examples=compiled,
        strict=strict not in (None, False, "", "0"),
        results=None if results is None else Path(str(results)),
        database=None if database is None else Path(str(database)),
    )


def user_cache(*parts: str) -> Path:
    """A per-user cache folder (``$XDG_CACHE_HOME/convequiv`` or ``~/.cache/convequiv``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "convequiv", *parts)
