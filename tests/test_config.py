"""compare.core.config: defaults < TOML < environment < explicit overrides; bad input names the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.core.config import (
    BUNDLED_MODEL,
    AlignConfig,
    ConfigError,
    EmbedConfig,
    MinHashConfig,
    StoryConfig,
    load_settings,
)


def write_toml(directory: Path, body: str, name: str = "compare.toml") -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.home == tmp_path
    assert settings.minhash == MinHashConfig()
    assert settings.embed == EmbedConfig() and settings.embed.model == BUNDLED_MODEL
    assert settings.align == AlignConfig()
    assert settings.stories == StoryConfig()
    assert (settings.minhash.shingle_size, settings.minhash.num_perm, settings.align.min_similarity) == (5, 128, 0.62)


def test_toml_in_home_overrides_defaults(tmp_path: Path) -> None:
    write_toml(tmp_path, '[minhash]\nshingle_size = 4\nmin_jaccard = 0.7\n\n[stories]\nwindow_days = 5\n\n[align]\nmutual = false\n')
    settings = load_settings(tmp_path, environ={})
    assert settings.minhash == MinHashConfig(shingle_size=4, min_jaccard=0.7)
    assert settings.stories.window_days == 5.0 and isinstance(settings.stories.window_days, float)
    assert settings.align.mutual is False
    assert settings.embed == EmbedConfig()


def test_explicit_config_file_is_used_and_must_exist(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    path = write_toml(other, '[embed]\nbatch_size = 8\n', name="my.toml")
    write_toml(tmp_path, '[embed]\nbatch_size = 99\n')
    assert load_settings(tmp_path, config_file=path, environ={}).embed.batch_size == 8
    with pytest.raises(ConfigError, match="missing.toml"):
        load_settings(tmp_path, config_file=tmp_path / "missing.toml", environ={})


def test_compare_config_environment_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[embed]\ndevice = "cuda:1"\n', name="env.toml")
    assert load_settings(tmp_path, environ={"COMPARE_CONFIG": str(path)}).embed.device == "cuda:1"


def test_environment_overrides_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, '[embed]\nmodel = "from-toml"\ndevice = "cpu"\nbatch_size = 16\n')
    settings = load_settings(tmp_path, environ={"COMPARE_MODEL": "from-env", "COMPARE_BATCH_SIZE": "32"})
    assert settings.embed == EmbedConfig(model="from-env", device="cpu", batch_size=32)


def test_compare_home_from_environment_supplies_home_and_its_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, '[stories]\nneighbours = 7\n')
    settings = load_settings(environ={"COMPARE_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.stories.neighbours == 7


def test_explicit_home_wins_over_compare_home(tmp_path: Path) -> None:
    explicit, from_env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir(), from_env.mkdir()
    write_toml(from_env, '[stories]\nneighbours = 7\n')
    settings = load_settings(explicit, environ={"COMPARE_HOME": str(from_env)})
    assert settings.home == explicit and settings.stories.neighbours == StoryConfig().neighbours


def test_explicit_overrides_win_over_environment_and_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, '[embed]\nmodel = "from-toml"\n\n[align]\nmin_similarity = 0.5\n')
    settings = load_settings(
        tmp_path,
        environ={"COMPARE_MODEL": "from-env"},
        overrides={"embed": {"model": "from-flag", "device": None}, "align": {"min_similarity": 0.9}},
    )
    assert settings.embed.model == "from-flag"
    assert settings.embed.device == "cpu"  # None means "flag not given"
    assert settings.align.min_similarity == 0.9


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    assert load_settings(tmp_path, environ={"COMPARE_MODEL": ""}).embed.model == BUNDLED_MODEL


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[minhash]\nshingle_sise = 4\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path, environ={})
    message = str(error.value)
    assert str(path) in message and "shingle_sise" in message and "[minhash]" in message


def test_unknown_section_names_file_and_section(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[minhsh]\nshingle_size = 4\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path, environ={})
    assert str(path) in str(error.value) and "minhsh" in str(error.value)


def test_bad_type_names_file_and_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[minhash]\nnum_perm = "many"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path, environ={})
    message = str(error.value)
    assert str(path) in message and "num_perm" in message and "'many'" in message


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="COMPARE_BATCH_SIZE"):
        load_settings(tmp_path, environ={"COMPARE_BATCH_SIZE": "lots"})


def test_unknown_override_key_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings(tmp_path, environ={}, overrides={"stories": {"colour": "red"}})


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[minhash\nshingle_size = 4\n")
    with pytest.raises(ConfigError, match=str(path).replace("\\", "\\\\")):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize("body", ["[minhash]\nshingle_size = 3.7\n", '[align]\nmutual = "ture"\n'], ids=["float-for-int", "bad-bool"])
def test_lossy_or_unrecognised_values_raise(tmp_path: Path, body: str) -> None:
    write_toml(tmp_path, body)
    with pytest.raises(ConfigError):
        load_settings(tmp_path, environ={})


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(AttributeError):
        settings.minhash.shingle_size = 3  # type: ignore[misc]


def test_claim_model_defaults_to_the_embedding_model_and_overrides_it_for_claims_only(tmp_path: Path) -> None:
    plain = load_settings(tmp_path, environ={"COMPARE_MODEL": "models/base"})
    assert plain.claim_embed == plain.embed and plain.claim_embed.model == "models/base"
    write_toml(tmp_path, '[embed]\nbatch_size = 8\n\n[align]\nclaim_model = "models/sts"\n')
    from_toml = load_settings(tmp_path, environ={})
    assert (from_toml.embed.model, from_toml.claim_embed.model) == (BUNDLED_MODEL, "models/sts")
    assert from_toml.claim_embed.batch_size == 8  # the rest of [embed] still applies to claims
    from_environment = load_settings(tmp_path, environ={"COMPARE_CLAIM_MODEL": "models/other"})
    assert from_environment.claim_embed.model == "models/other" and from_environment.embed.model == BUNDLED_MODEL


def test_article_vectors_default_to_int8_on_cpu_and_claims_keep_the_embedding_backend(tmp_path: Path) -> None:
    from compare.embed.embedder import cached_embedder, make_embedder

    settings = load_settings(tmp_path, environ={})
    assert settings.article_embed.backend == "onnx-int8" and settings.claim_embed.backend == "auto"
    assert settings.article_embed.model == settings.embed.model
    # the cache folder and the vectors' name carry the backend, so fp32 and int8 vectors never mix
    assert cached_embedder(settings.article_embed, tmp_path).cache.folder != cached_embedder(settings.claim_embed, tmp_path).cache.folder
    assert make_embedder(settings.article_embed).name == f"{BUNDLED_MODEL}+onnx-int8"
    assert make_embedder(settings.claim_embed).name == BUNDLED_MODEL
    # an explicit [embed] backend (or a GPU device) is followed by articles too, unless article_backend says otherwise
    assert load_settings(tmp_path, environ={}, overrides={"embed": {"backend": "hash"}}).article_embed.backend == "hash"
    assert load_settings(tmp_path, environ={}, overrides={"embed": {"device": "cuda"}}).article_embed.backend == "auto"
    write_toml(tmp_path, '[embed]\narticle_backend = "onnx"\n')
    assert load_settings(tmp_path, environ={}).article_embed.backend == "onnx"
