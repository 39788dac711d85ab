"""One settings object: options over environment variables over defaults, validated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from convequiv.settings import DEFAULT_PROFILE, Settings, SettingsError, parse_adapters, resolve


def test_defaults():
    s = resolve({}, env={})
    assert s == Settings() and s.profile == DEFAULT_PROFILE == "ci" and s.adapters is None
    assert s.max_examples == 100 and s.examples_when_compiling == 100


def test_options_win_over_the_environment():
    env = {"CONVEQUIV_PROFILE": "dev", "CONVEQUIV_ADAPTERS": "torch", "CONVEQUIV_STRICT_DIVERGENCES": "1"}
    s = resolve({"profile": "thorough"}, env=env)
    assert s.profile == "thorough" and s.adapters == ("torch",) and s.strict
    assert s.examples_when_compiling == 200
    assert resolve({"compiled_examples": 7}, env={"CONVEQUIV_COMPILED_EXAMPLES": "3"}).compiled_examples == 7
    assert resolve({}, env={"CONVEQUIV_COMPILED_EXAMPLES": "3"}).compiled_examples == 3


def test_adapter_lists():
    assert parse_adapters("torch, keras[jax] ,") == ("torch", "keras[jax]")
    assert parse_adapters("none") == () and parse_adapters(" ") == () and parse_adapters(None) is None


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"profile": "fast"}, {}, "profile 'fast'"),
        ({}, {"CONVEQUIV_PROFILE": "fast"}, "CONVEQUIV_PROFILE"),
        ({"compiled_examples": 0}, {}, "at least 1"),
        ({}, {"CONVEQUIV_COMPILED_EXAMPLES": "many"}, "must be an int"),
    ],
)
def test_bad_values_name_the_setting(options, env, message):
    with pytest.raises(SettingsError, match=message):
        resolve(options, env=env)


def test_environment_carries_the_settings_to_a_child():
    s = Settings(adapters=("torch",), profile="dev", compiled_examples=5, strict=True, results=Path("r.json"))
    assert resolve({}, env=s.environment()) == s
