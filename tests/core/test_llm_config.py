"""config.toml sections: inheritance, both name forms, ${VAR}, errors, and the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ohbench.core.llm import LLMConfigError, available_sections, load_llm_config, redact

CONFIG = """\
[llm]
api_key = "${OHB_TEST_KEY}"
base_url = "http://127.0.0.1:9/v1"
temperature = 0
num_retries = 2

[llm.gpt]
model = "openai/gpt-4o"
input_cost_per_token = 0.0000025
output_cost_per_token = 0.00001
native_tool_calling = true

[llm.claude]
model = "anthropic/claude-x"
temperature = 0.5
api_key = "sk-claude-own"

[llm.bedrock]
model = "bedrock/claude"
aws_secret_access_key = "aws-secret-${OHB_TEST_KEY}"
extra_headers = {X-Team = "${OHB_TEAM}"}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OHB_TEST_KEY", "sk-from-env-1234")
    monkeypatch.setenv("OHB_TEAM", "bench")
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_named_section_inherits_the_defaults(config: Path) -> None:
    gpt = load_llm_config(config, "llm.gpt")
    assert gpt == load_llm_config(config, "gpt")
    assert (gpt.name, gpt.model, gpt.base_url, gpt.temperature, gpt.num_retries) == ("gpt", "openai/gpt-4o", "http://127.0.0.1:9/v1", 0.0, 2)
    assert gpt.api_key == "sk-from-env-1234"
    assert gpt.extra == {"native_tool_calling": True}
    claude = load_llm_config(config, "claude")
    assert (claude.temperature, claude.api_key) == (0.5, "sk-claude-own")


def test_cost_from_per_token_prices(config: Path) -> None:
    gpt = load_llm_config(config, "gpt")
    assert gpt.cost(1000, 100) == pytest.approx(1000 * 0.0000025 + 100 * 0.00001)
    assert load_llm_config(config, "claude").cost(1000, 100) == 0.0


def test_the_key_stays_out_of_repr_and_redacted_text(config: Path) -> None:
    gpt = load_llm_config(config, "gpt")
    assert "sk-from-env-1234" not in repr(gpt) and "'***'" in repr(gpt)
    assert redact("Bearer sk-from-env-1234 failed", gpt.secrets()) == "Bearer *** failed"
    assert gpt.to_env()["LLM_API_KEY"] == "sk-from-env-1234" and gpt.to_env()["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1"


def test_the_bare_defaults_section(config: Path) -> None:
    config.write_text('[llm]\nmodel = "openai/local"\n\n[llm.gpt]\nmodel = "openai/gpt-4o"\n')
    defaults = load_llm_config(config, "llm")
    assert (defaults.name, defaults.model, defaults.api_key, defaults.extra) == ("llm", "openai/local", None, {})
    assert "api_key=None" in repr(defaults)


def test_to_env_for_a_cli_agent(config: Path) -> None:
    assert load_llm_config(config, "gpt").to_env() == {
        "LLM_MODEL": "openai/gpt-4o",
        "LLM_API_KEY": "sk-from-env-1234",
        "OPENAI_API_KEY": "sk-from-env-1234",
        "LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_BASE": "http://127.0.0.1:9/v1",
    }


def test_unknown_keys_are_kept_expanded_and_their_secrets_masked(config: Path) -> None:
    bedrock = load_llm_config(config, "bedrock")
    assert bedrock.extra == {"aws_secret_access_key": "aws-secret-sk-from-env-1234", "extra_headers": {"X-Team": "bench"}}
    assert bedrock.secrets() == ["sk-from-env-1234", "aws-secret-sk-from-env-1234"]
    assert "sk-from-env-1234" not in repr(bedrock) and "'bench'" in repr(bedrock)
    # The longer secret contains the shorter one: masked whole, no tail left behind.
    assert redact("key=aws-secret-sk-from-env-1234;", bedrock.secrets()) == "key=***;"


def test_redact_ignores_empty_and_very_short_secrets() -> None:
    assert redact("a b abc abcd", ["", "a", "abc", "abcd"]) == "a b abc ***"
    assert redact("nothing here", []) == "nothing here"


def test_sections_listed(config: Path) -> None:
    assert available_sections(config) == ["llm", "llm.bedrock", "llm.claude", "llm.gpt"]


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (CONFIG, "llm.mistral", "no section [llm.mistral] (sections: llm, llm.bedrock, llm.claude, llm.gpt)"),
        (CONFIG, "mistral", "no section [llm.mistral] (sections: llm, llm.bedrock, llm.claude, llm.gpt)"),
        ("[llm]\nmodel = 'x'\n[llm\nmodel = 1", "gpt", "invalid TOML: "),
        ("[core]\nx = 1\n", "gpt", "no [llm] section"),
        (CONFIG.replace("temperature = 0.5", 'temperature = "hot"'), "claude", "[llm.claude] temperature must be int or float, got 'hot'"),
        (CONFIG.replace("${OHB_TEST_KEY}", "${OHB_UNSET_VAR}"), "gpt", "[llm] (inherited by [llm.gpt]) api_key uses ${OHB_UNSET_VAR}, which is not set"),
        (CONFIG.replace("num_retries = 2", "num_retries = 2.5"), "gpt", "[llm] (inherited by [llm.gpt]) num_retries must be int, got 2.5"),
        (CONFIG.replace("temperature = 0\n", "temperature = true\n"), "llm", "[llm] temperature must be int or float, got True"),
        ("[llm]\ntemperature = 0\n", "llm", "[llm] sets no model"),
        (CONFIG.replace('api_key = "sk-claude-own"', 'api_key = "${OHB_UNSET_VAR}"'), "claude", "[llm.claude] api_key uses ${OHB_UNSET_VAR}"),
    ],
)
def test_errors_name_the_file_and_the_problem(config: Path, text: str, name: str, message: str) -> None:
    config.write_text(text)
    with pytest.raises(LLMConfigError) as info:
        load_llm_config(config, name)
    assert str(config) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_toml_names_the_line(config: Path) -> None:
    config.write_text('[llm]\nmodel = "x"\ntemperature = = 1\n')
    with pytest.raises(LLMConfigError, match=r"invalid TOML: .*line 3"):
        load_llm_config(config, "llm")


def test_variables_expand_inside_strings(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHB_PORT", "8123")
    config.write_text('[llm]\nmodel = "m"\nbase_url = "http://127.0.0.1:${OHB_PORT}/v1"\napi_key = "$NOT_EXPANDED"\n')
    llm = load_llm_config(config, "llm")
    assert (llm.base_url, llm.api_key) == ("http://127.0.0.1:8123/v1", "$NOT_EXPANDED")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match=r"config\.toml: LLM config file not found"):
        load_llm_config(tmp_path / "config.toml", "gpt")
