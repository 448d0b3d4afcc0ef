"""Config loading: merge order, overrides, and errors that name key and file."""
from __future__ import annotations

import dataclasses

import pytest

from debut.cli import main
from debut.config import ConfigError, flatten, load_config


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
    with pytest.raises(dataclasses.FrozenInstanceError):
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
