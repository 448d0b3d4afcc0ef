"""Config loading: merge order, overrides, and errors that name key and file."""
from __future__ import annotations

import pickle

import pydantic
import pytest
import yaml

from debut.cli import main
from debut.config import (Config, ConfigError, DeepConf, OptimizeConf, default_conf_dir, flatten, load_config,
                          render_base, to_dict)


def write_conf(tmp_path, base: str, env: str = "", env_name: str = "dev"):
    (tmp_path / "envs").mkdir()
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "envs" / f"{env_name}.yaml").write_text(env)
    return tmp_path


def test_env_overrides_base_and_set_overrides_env(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  users: 10\n  days: 5\n", "simulate:\n  users: 20\n")
    conf = load_config("dev", ["simulate.days=9"], conf_dir=d)
    assert (conf.simulate.users, conf.simulate.days, conf.simulate.seed) == (20, 9, 7)


def test_config_is_frozen(tmp_path):
    conf = load_config("dev", conf_dir=write_conf(tmp_path, "{}"))
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        conf.simulate.users = 3  # type: ignore[misc]


def test_unknown_key_names_key_and_file(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  users: 10\n", "simulate:\n  userz: 20\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    msg = str(err.value)
    assert "'simulate.userz'" in msg and str(d / "envs" / "dev.yaml") in msg


def test_unknown_section_names_file(tmp_path):
    d = write_conf(tmp_path, "simulat:\n  users: 10\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: unknown key 'simulat'"):
        load_config("dev", conf_dir=d)


def test_wrong_type_names_key_and_file(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  users: many\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == (f"{d / 'base.yaml'}: key 'simulate.users' must be an integer, "
                              "got 'many' (str)")


def test_bool_is_not_an_integer(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  users: true\n")
    with pytest.raises(ConfigError, match="'simulate.users' must be an integer"):
        load_config("dev", conf_dir=d)


def test_wrong_type_from_set_names_set(tmp_path):
    d = write_conf(tmp_path, "{}")
    with pytest.raises(ConfigError, match=r"^--set: key 'simulate.dirty_rate' must be a number"):
        load_config("dev", ["simulate.dirty_rate=lots"], conf_dir=d)


def test_out_of_range_value_names_key(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  dirty_rate: 1.5\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: key 'simulate.dirty_rate' must be in \[0, 1\)"):
        load_config("dev", conf_dir=d)


def test_missing_env_file_names_file(tmp_path):
    d = write_conf(tmp_path, "{}")
    with pytest.raises(ConfigError) as err:
        load_config("prod", conf_dir=d)
    assert str(d / "envs" / "prod.yaml") in str(err.value) and "known: dev" in str(err.value)


def test_missing_base_file_names_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*base\.yaml not found"):
        load_config("dev", conf_dir=tmp_path)


def test_env_variable_expansion(tmp_path, monkeypatch):
    d = write_conf(tmp_path, "paths:\n  data_dir: ${DEBUT_T_DIR:-/x}/lake\nmlflow:\n  tracking_uri: ${DEBUT_T_URI:-null}\n")
    monkeypatch.delenv("DEBUT_T_DIR", raising=False)
    conf = load_config("dev", conf_dir=d)
    assert (conf.paths.data_dir, conf.mlflow.tracking_uri) == ("/x/lake", None)
    monkeypatch.setenv("DEBUT_T_DIR", "/y")
    assert load_config("dev", conf_dir=d).paths.data_dir == "/y/lake"


def test_unset_env_variable_without_default_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBUT_T_NOPE", raising=False)
    d = write_conf(tmp_path, "paths:\n  data_dir: ${DEBUT_T_NOPE}\n")
    with pytest.raises(ConfigError, match="'paths.data_dir' uses environment variable DEBUT_T_NOPE"):
        load_config("dev", conf_dir=d)


def test_shipped_envs_load():
    for env in ("local", "test", "cluster", "databricks"):
        assert load_config(env).env == env


def test_replace_and_flatten():
    conf = load_config("test").replace(**{"simulate.users": 11})
    flat = flatten(conf.simulate)
    assert conf.simulate.users == 11 and flat["users"] == 11


@pytest.mark.parametrize("args, needle", [
    (["run", "simulate", "--env", "nope"], "envs/nope.yaml not found"),
    (["run", "simulate", "--set", "simulate.userz=3"], "unknown key 'simulate.userz'"),
    (["run", "simulate", "--set", "simulate.users=x"], "'simulate.users' must be an integer"),
    (["run", "no_such_job"], "unknown job 'no_such_job'"),
    (["run", "simulate", "--run-date", "2026-13-01"], "--run-date: expected YYYY-MM-DD"),
])
def test_cli_config_errors_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("debut: configuration error:") and needle in err


def test_mapping_values_are_read_only_and_hashable(tmp_path):
    conf = load_config("dev", conf_dir=write_conf(tmp_path, "{}"))
    with pytest.raises(TypeError):
        conf.aggregate.event_weights["view"] = 2.0  # type: ignore[index]
    assert hash(conf) == hash(load_config("dev", conf_dir=tmp_path))


def test_range_error_in_env_file_names_key_file_and_bounds(tmp_path):
    d = write_conf(tmp_path, "{}", "deep:\n  num_proc: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == f"{d / 'envs' / 'dev.yaml'}: key 'deep.num_proc' must be >= 1, got 0"


def test_range_error_from_set_names_set_and_both_bounds():
    with pytest.raises(ConfigError) as err:
        load_config("test", ["forecast.target_coverage=1.0"])
    assert str(err.value) == "--set: key 'forecast.target_coverage' must be in (0, 1), got 1.0"


def test_range_error_in_a_list_names_the_element(tmp_path):
    d = write_conf(tmp_path, "forecast:\n  quantiles: [0.1, 1.5]\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == f"{d / 'base.yaml'}: key 'forecast.quantiles[1]' must be in (0, 1), got 1.5"


def test_range_error_in_a_mapping_names_the_entry(tmp_path):
    d = write_conf(tmp_path, "optimize:\n  budgets: {bags: -5.0}\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == f"{d / 'base.yaml'}: key 'optimize.budgets.bags' must be >= 0, got -5.0"


def test_bad_choice_names_key_file_and_choices(tmp_path):
    d = write_conf(tmp_path, "{}", "recommend:\n  cold_map: forest\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == f"{d / 'envs' / 'dev.yaml'}: key 'recommend.cold_map' must be 'ridge' or 'mlp', got 'forest'"


def test_bad_date_names_key_and_file(tmp_path):
    d = write_conf(tmp_path, "{}", 'run_date: "2026-02-30"\n')
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value) == f"{d / 'envs' / 'dev.yaml'}: key 'run_date' must be a date YYYY-MM-DD, got '2026-02-30'"


def test_unquoted_yaml_date_is_read_as_text(tmp_path):
    d = write_conf(tmp_path, "{}", "run_date: 2026-03-01\n")
    assert load_config("dev", conf_dir=d).run_date == "2026-03-01"


def test_cross_key_check_names_the_key_set_last_and_its_source(tmp_path):
    d = write_conf(tmp_path, "features:\n  segment_k_min: 4\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", ["features.segment_k_max=3"], conf_dir=d)
    assert str(err.value) == "--set: key 'features.segment_k_max' needs segment_k_min <= segment_k_max, got 4 and 3"


def test_several_mistakes_are_reported_together(tmp_path):
    d = write_conf(tmp_path, "simulate:\n  users: 0\n  days: x\n")
    with pytest.raises(ConfigError) as err:
        load_config("dev", conf_dir=d)
    assert str(err.value).splitlines() == [
        f"{d / 'base.yaml'}: key 'simulate.users' must be >= 1, got 0",
        f"{d / 'base.yaml'}: key 'simulate.days' must be an integer, got 'x' (str)"]


@pytest.mark.parametrize("item, message", [
    ("simulate.users", "--set 'simulate.users': expected key=value"),
    ("simulate.users=[1", "--set: key 'simulate.users' value '[1' is not valid YAML: expected ',' or ']', "
                          "but got '<stream end>'"),
    ("simulate.users.x=1", "--set: key 'simulate.users' must be an integer, got {'x': 1} (dict)"),
])
def test_bad_set_names_the_set(tmp_path, item, message):
    with pytest.raises(ConfigError) as err:
        load_config("dev", [item], conf_dir=write_conf(tmp_path, "{}"))
    assert str(err.value) == message


def test_env_key_comes_from_env_option(tmp_path):
    conf = load_config("dev", conf_dir=write_conf(tmp_path, "{}"))
    assert (conf.env, conf.source_of("env"), conf.source_of("simulate.users")) == ("dev", "--env", "defaults")


def test_direct_construction_errors_name_the_class():
    with pytest.raises(ConfigError) as err:
        DeepConf(dropout=1.0)
    assert str(err.value) == "DeepConf(): key 'deep.dropout' must be in [0, 1), got 1.0"


def test_replace_validates_and_names_replace():
    conf = load_config("test")
    with pytest.raises(ConfigError) as err:
        conf.replace(**{"simulate.users": 0})
    assert str(err.value) == "replace(): key 'simulate.users' must be >= 1, got 0"
    assert conf.deep.replace(batch_size=8).batch_size == 8


def test_config_pickles_with_its_sources():
    conf = load_config("test", ["optimize.budgets={bags: 5.0}"])
    back = pickle.loads(pickle.dumps(conf))
    assert back == conf and back.optimize.budget("bags") == 5.0
    assert back.source_of("optimize.budgets.bags") == "--set"
    assert back.source_of("spark.master") == str(default_conf_dir() / "envs" / "test.yaml")


def test_section_of_takes_config_section_or_mapping():
    conf = load_config("test")
    assert OptimizeConf.of(conf) is conf.optimize
    assert OptimizeConf.of({"max_launches": 2}).max_launches == 2


def test_base_yaml_is_generated_from_the_models():
    path = default_conf_dir() / "base.yaml"
    assert path.read_text() == render_base(), "conf/base.yaml is stale: run python -m debut.config --write-base"


def test_base_yaml_and_model_defaults_agree_exactly():
    base = yaml.safe_load((default_conf_dir() / "base.yaml").read_text())
    defaults = to_dict(Config())
    defaults.pop("env")                            # set by --env, never in a file
    assert base == defaults
    assert len(flatten(base)) == len(flatten(defaults)) > 170


def test_every_conf_attribute_used_in_the_library_exists():
    import pathlib
    import re

    lib = pathlib.Path(__file__).resolve().parents[1] / "lib" / "debut"
    used = {m for path in lib.rglob("*.py") for m in re.findall(r"\bconf\.([a-z_]+)\.([a-z_]+)\b", path.read_text())}
    conf = Config()
    missing = sorted(f"{s}.{k}" for s, k in used if not hasattr(getattr(conf, s, None), k))
    assert len(used) > 40 and missing == []
