"""train_deep: models alone (fast, pure torch), then the real Petastorm + Horovod + MLflow path."""
from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from debut.config import ConfigError
from debut.deep.conf import DeepConf, petastorm_cache_url
from debut.deep.models import CTRModel, DemandNet, MonotoneQuantileHead, SequenceModel, ServingModel, pinball_loss
from debut.deep.tasks import get_task, quantile_suffix

SEQ_LEN, N_CAT, N_EVT = 8, 5, 3


# ---------------------------------------------------------------- synthetic data
def ctr_rows(n: int, seed: int = 0):
    """Separable toy set: the label is the sign of a user+item score with a user x item cross."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 8)).astype(np.float32)
    v = rng.normal(size=(n, 6)).astype(np.float32)
    y = (2 * u[:, 0] + 2 * v[:, 0] + 1.5 * u[:, 1] * v[:, 1] > 0).astype(float)
    return [(int(i), u[i].tolist(), v[i].tolist(), float(y[i])) for i in range(n)]


def seq_arrays(n: int, seed: int = 0):
    """Next category = the most recent one; intent = the most recent event was a purchase (id 3)."""
    rng = np.random.default_rng(seed)
    cats = np.zeros((n, SEQ_LEN), np.int32)
    evts = np.zeros((n, SEQ_LEN), np.int32)
    gaps = np.zeros((n, SEQ_LEN), np.float32)
    lengths = rng.integers(1, SEQ_LEN + 1, size=n)
    for i, length in enumerate(lengths):
        cats[i, SEQ_LEN - length:] = rng.integers(1, N_CAT + 1, size=length)
        evts[i, SEQ_LEN - length:] = rng.integers(1, N_EVT + 1, size=length)
        gaps[i, SEQ_LEN - length:] = rng.exponential(1.0, size=length)
    return cats, evts, gaps, cats[:, -1].copy(), (evts[:, -1] == 3).astype(np.float32)


def demand_arrays(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    attrs = rng.normal(size=(n, 4)).astype(np.float32)
    text = rng.normal(size=(n, 16)).astype(np.float32)
    ctx = rng.normal(size=(n, 3)).astype(np.float32)
    y = np.clip(2.0 + attrs[:, 0] + 0.5 * ctx[:, 0] + 0.5 * text[:, 0] + rng.normal(0, 0.3, n), 0, None)
    return attrs, text, ctx, y.astype(np.float32)


def packed_seq(cats, evts, gaps) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([cats, evts, gaps], axis=1).astype(np.float32))


# ------------------------------------------------------------------- models alone
def test_ctr_model_shapes():
    model = CTRModel(8, 6)
    x = torch.randn(5, 14)
    assert model(x).shape == (5,)
    p = model.predict(x)
    assert p.shape == (5, 1) and bool(((p > 0) & (p < 1)).all())


def test_sequence_model_shapes_and_padding_class():
    model = SequenceModel(SEQ_LEN, N_CAT, N_EVT).eval()
    cats, evts, gaps, _, _ = seq_arrays(4)
    with torch.no_grad():
        out = model.predict(packed_seq(cats, evts, gaps))
    assert out.shape == (4, N_CAT + 2)
    assert torch.allclose(out[:, :-1].sum(dim=1), torch.ones(4), atol=1e-5)
    assert float(out[:, 0].max()) == 0.0             # class 0 is padding, never predicted


def test_sequence_model_ignores_padding_position():
    model = SequenceModel(SEQ_LEN, N_CAT, N_EVT).eval()
    cats = np.array([[0, 0, 0, 2, 4, 1, 3, 5]], np.int32)
    evts = np.array([[0, 0, 0, 1, 2, 3, 1, 2]], np.int32)
    gaps = np.array([[0, 0, 0, .5, 1, 2, .1, .3]], np.float32)
    right = [np.roll(a, -3, axis=1) for a in (cats, evts, gaps)]   # same history, padded at the end
    assert torch.allclose(model(packed_seq(cats, evts, gaps)), model(packed_seq(*right)), atol=1e-5)


def test_demand_net_shapes():
    model = DemandNet(4, 16, 3, (0.1, 0.5, 0.9))
    assert model(torch.randn(6, 23)).shape == (6, 3)


def test_quantiles_never_cross():
    torch.manual_seed(0)
    head = MonotoneQuantileHead(8, 5)
    with torch.no_grad():
        head.proj.weight.mul_(50.0)                  # wild weights: increments still >= 0
    q = head(torch.randn(1000, 8))
    assert bool((q[:, 1:] >= q[:, :-1]).all())


def test_pinball_loss_hand_computed():
    pred = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([2.5, -1.0])
    # row 1: e = 1.5, 0.5, -0.5 -> 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5) = 0.15, 0.25, 0.05
    # row 2: e = -1 -> (0.1-1)(-1), (0.5-1)(-1), (0.9-1)(-1) = 0.9, 0.5, 0.1
    expected = (0.15 + 0.25 + 0.05 + 0.9 + 0.5 + 0.1) / 6
    assert pinball_loss(pred, target, (0.1, 0.5, 0.9)).item() == pytest.approx(expected, abs=1e-7)


def _fit(model, x, loss_fn, steps=60):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model, x)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    return first, loss_fn(model, x).item()


def test_ctr_loss_decreases_on_tiny_batch():
    rows = ctr_rows(64)
    x = torch.tensor([r[1] + r[2] for r in rows])
    y = torch.tensor([r[3] for r in rows])
    first, last = _fit(CTRModel(8, 6, dropout=0.0), x,
                       lambda m, x: torch.nn.functional.binary_cross_entropy_with_logits(m(x), y))
    assert last < 0.5 * first


def test_sequence_loss_decreases_on_tiny_batch():
    cats, evts, gaps, nxt, intent = seq_arrays(64)
    task, deep = get_task("sequence"), DeepConf(seq_len=SEQ_LEN, dropout=0.0)
    labels = {"next_category": torch.from_numpy(nxt), "purchase_intent": torch.from_numpy(intent)}
    first, last = _fit(SequenceModel(SEQ_LEN, N_CAT, N_EVT, dropout=0.0), packed_seq(cats, evts, gaps),
                       lambda m, x: task.loss(m, x, labels, deep))
    assert last < 0.5 * first


def test_demand_loss_decreases_on_tiny_batch():
    attrs, text, ctx, y = demand_arrays(64)
    x = torch.from_numpy(np.concatenate([attrs, text, ctx], axis=1))
    first, last = _fit(DemandNet(4, 16, 3, dropout=0.0), x,
                       lambda m, x: pinball_loss(m(x), torch.from_numpy(y), (0.1, 0.5, 0.9)))
    assert last < 0.5 * first


def test_serving_model_is_eval_and_predicts():
    model = CTRModel(8, 6)
    serving = ServingModel(model)
    assert not serving.training and not model.training
    x = torch.randn(3, 14)
    assert torch.equal(serving(x), model.predict(x))


# ------------------------------------------------------------------ conf, tasks
def test_deep_conf_defaults():
    deep = DeepConf()
    assert (deep.backend, deep.num_proc, deep.quantiles) == ("horovod", 2, (0.1, 0.5, 0.9))
    assert deep.model_name("demand") == "debut_demand"


@pytest.mark.parametrize("bad, key", [({"backend": "mpi"}, "deep.backend"),
                                      ({"quantiles": (0.5, 0.1)}, "deep.quantiles"),
                                      ({"num_proc": 0}, "deep.num_proc")])
def test_deep_conf_rejects_bad_values(bad, key):
    with pytest.raises(ConfigError, match=key):
        DeepConf(**bad)


def test_petastorm_cache_defaults_to_paths(conf):
    assert petastorm_cache_url(conf, DeepConf()) == "file://" + os.path.abspath(conf.paths.petastorm_cache)
    assert petastorm_cache_url(conf, DeepConf(petastorm_cache="s3://b/c")) == "s3://b/c"


def test_quantile_column_suffix():
    assert [quantile_suffix(q) for q in (0.1, 0.5, 0.9, 0.975)] == ["q10", "q50", "q90", "q97_5"]


def test_pack_pandas_marks_bad_rows_invalid():
    pdf = pd.DataFrame({"user_features": [np.ones(2), None, np.array([1.0, np.nan]), np.ones(3)],
                        "item_features": [np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1)]})
    x, valid = get_task("ctr").pack_pandas(pdf, (2, 1))
    assert valid.tolist() == [True, False, False, False]
    assert x.tolist() == [[1.0, 1.0, 0.0]]


def test_min_shard_rows_is_a_lower_bound(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from debut.deep.data import min_shard_rows, steps_per_epoch

    urls = []
    for i, n in enumerate([600, 20, 5]):
        path = tmp_path / f"part-{i}.parquet"
        pq.write_table(pa.table({"a": list(range(n))}), path)
        urls.append("file://" + str(path))

    class Conv:
        file_urls = urls

        def __len__(self):
            return 625

    # shards get row groups {0, 2} and {1}; any assignment leaves each at least the smallest group
    assert min_shard_rows(Conv(), 2) == 5
    assert min_shard_rows(Conv(), 1) == 625
    assert steps_per_epoch(5, 64) == 1 and steps_per_epoch(625, 64) == 9


def _ctr_converter(tmp_path, name: str, sizes):
    """A Petastorm converter over parquet files written without Spark (one row group per file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from petastorm.spark.spark_dataset_converter import SparkDatasetConverter

    urls = []
    (tmp_path / name).mkdir()
    for i, n in enumerate(sizes):
        rows = ctr_rows(n, seed=i)
        path = tmp_path / name / f"part-{i}.parquet"
        pq.write_table(pa.table({"user_features": pa.array([r[1] for r in rows], pa.list_(pa.float32())),
                                 "item_features": pa.array([r[2] for r in rows], pa.list_(pa.float32())),
                                 "label": pa.array([r[3] for r in rows], pa.float32())}), path)
        urls.append("file://" + str(path))
    return SparkDatasetConverter("file://" + str(tmp_path / name), urls, sum(sizes))


def test_loader_batches_and_head_rows_read_the_cache_without_spark(tmp_path):
    from debut.deep.data import head_rows, open_loader

    conv = _ctr_converter(tmp_path, "c", [300, 200])
    head = head_rows(conv, 5)
    assert len(head) == 5 and list(head.columns) == ["user_features", "item_features", "label"]
    np.testing.assert_allclose(np.stack(head["user_features"].to_list()),
                               np.array([r[1] for r in ctr_rows(300, seed=0)[:5]]), rtol=1e-6)
    assert len(head_rows(conv, 450)) == 450
    with open_loader(conv, rank=0, size=1, batch_size=64, shuffle=True, seed=1, shuffle_buffer=128) as loader:
        it = iter(loader)
        batches = [next(it) for _ in range(20)]         # endless: 20 x 64 rows > 500
    assert {tuple(b["user_features"].shape) for b in batches} == {(64, 8)}
    assert {tuple(b["item_features"].shape) for b in batches} == {(64, 6)}
    assert {tuple(b["label"].shape) for b in batches} == {(64,)}


def test_one_launch_trains_several_jobs_in_turn(tmp_path):
    """train_jobs (what every Horovod process runs): one result per job, in order, each with its own weights."""
    from debut.deep.loop import Comm, TrainJob, load_state, train_jobs

    deep = DeepConf(epochs=3, batch_size=32, lr=5e-3, patience=5, hidden_dim=8, embed_dim=4, torch_threads=1)
    dims = {"user_features": 8, "item_features": 6}
    jobs = [TrainJob(task="ctr", dims=dims, deep=deep.replace(seed=seed), train_converter=_ctr_converter(
                tmp_path, f"train{seed}", [400]), val_converter=_ctr_converter(tmp_path, f"val{seed}", [100]),
                steps_per_epoch=12, val_steps=4) for seed in (1, 2)]
    results = train_jobs(Comm(), jobs)
    assert [len(r["history"]) for r in results] == [3, 3]
    assert all(r["rank"] == 0 and r["seconds"] > 0 and r["best_val_loss"] < 0.69 for r in results)
    models = [load_state(get_task("ctr").build_model(dims, deep), r["state_dict"]) for r in results]
    assert not torch.equal(models[0].user_fields.weight, models[1].user_fields.weight)
    assert train_jobs(Comm(), jobs[0])["history"][-1]["epoch"] == 2    # a single job: its result alone


# ---------------------------------------------------------------- Spark helpers
def ctr_df(spark, n: int, seed: int = 0, with_null: bool = False):
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("id", T.LongType()),
                           T.StructField("user_features", T.ArrayType(T.FloatType())),
                           T.StructField("item_features", T.ArrayType(T.FloatType())),
                           T.StructField("label", T.DoubleType())])
    rows = ctr_rows(n, seed)
    if with_null:
        rows.append((n, None, [0.0] * 6, 1.0))
    return spark.createDataFrame(rows, schema)


def to_delta(df, path: str, partitions: int = 4):
    df.repartition(partitions).write.format("delta").mode("overwrite").save(path)
    return df.sparkSession.read.format("delta").load(path)


def auc(labels, scores) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def test_validate_input_rejects_ragged_arrays(spark):
    from pyspark.sql import types as T

    from debut.deep.tasks import validate_input

    schema = T.StructType([T.StructField("user_features", T.ArrayType(T.FloatType())),
                           T.StructField("item_features", T.ArrayType(T.FloatType())),
                           T.StructField("label", T.DoubleType())])
    df = spark.createDataFrame([([1.0, 2.0], [1.0], 1.0), ([1.0], [1.0], 0.0)], schema)
    with pytest.raises(ValueError, match="user_features must be a fixed-length"):
        validate_input(df, get_task("ctr"), DeepConf())


def test_validate_input_drops_and_counts_null_rows(spark):
    from debut.deep.tasks import validate_input

    clean, dims, counts = validate_input(ctr_df(spark, 6, with_null=True), get_task("ctr"), DeepConf())
    assert counts == {"rows": 7, "rows_invalid": 1}
    assert dims == {"user_features": 8, "item_features": 6}
    assert clean.count() == 6 and clean.columns == ["user_features", "item_features", "label"]


# ------------------------- the three models end to end: Delta -> Petastorm -> Horovod -> MLflow
@pytest.fixture(scope="module")
def horovod_trained(spark, tmp_path_factory):
    """ctr, sequence and demand trained in one launch of 2 Horovod processes, as train_deep does
    (``prepare`` each set, then ``fit`` them together), and registered; by task: (df, deep, result)."""
    from conftest import make_conf

    from debut.deep.train import fit, prepare

    conf = make_conf(tmp_path_factory.mktemp("deep-horovod"))
    small = DeepConf(epochs=2, batch_size=32, seq_len=SEQ_LEN, num_proc=2, backend="horovod")
    sets = {
        "ctr": (to_delta(ctr_df(spark, 2000, with_null=True), os.path.join(conf.paths.data_dir, "toy_ctr")),
                DeepConf(epochs=4, batch_size=64, lr=5e-3, num_proc=2, backend="horovod")),
        "sequence": (to_delta(seq_df(spark, 300), os.path.join(conf.paths.data_dir, "toy_sequence"), partitions=2),
                     small),
        "demand": (to_delta(demand_df(spark, 300), os.path.join(conf.paths.data_dir, "toy_demand"), partitions=2),
                   small),
    }
    with contextlib.ExitStack() as stack:    # the Petastorm caches live until the launch is done
        prepared = [prepare(spark, conf, df, task, stack, deep=deep) for task, (df, deep) in sets.items()]
        results = fit(spark, conf, prepared, run_date="2026-10-01")
    return conf, {task: (df, deep, r) for (task, (df, deep)), r in zip(sets.items(), results)}


@pytest.fixture(scope="module")
def ctr_trained(horovod_trained):
    conf, trained = horovod_trained
    df, deep, result = trained["ctr"]
    return conf, deep, df, result


@pytest.mark.timeout(300)
def test_ctr_trains_with_horovod_and_registers(ctr_trained):
    import mlflow

    conf, deep, _, result = ctr_trained
    assert (result.model_name, result.version) == ("debut_ctr", 1)
    assert result.counts["rows_invalid"] == 1 and result.counts["rows"] == 2001
    client = mlflow.tracking.MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.params["deep.backend"] == "horovod" and run.data.params["dims.user_features"] == "8"
    val_losses = client.get_metric_history(result.run_id, "val_loss")
    assert sorted(m.step for m in val_losses) == list(range(len(result.history)))
    assert min(m.value for m in val_losses) < 0.45     # chance (always 0.5) scores log(2) = 0.69
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "debut/train_deep" and exp.artifact_location.startswith("file://" + conf.paths.data_dir)


@pytest.mark.timeout(300)
def test_registered_ctr_scores_dataframe_via_pandas_udf(ctr_trained, spark):
    from debut.deep.score import score

    conf, deep, df, result = ctr_trained
    fresh = to_delta(ctr_df(spark, 400, seed=1, with_null=True), os.path.join(conf.paths.data_dir, "toy_ctr_test"))
    pdf = score(fresh, conf, "ctr", version="latest", deep=deep).toPandas().sort_values("id")
    assert list(pdf.columns) == ["id", "label", "p_purchase"] and len(pdf) == 401
    assert pdf["p_purchase"].isna().tolist() == [False] * 400 + [True]   # the null row keeps its row
    ok = pdf.dropna()
    assert auc(ok["label"], ok["p_purchase"]) > 0.8


@pytest.mark.timeout(300)
def test_scoring_the_model_in_memory_matches_the_registered_version(ctr_trained, spark):
    from debut.deep.score import score

    conf, deep, df, result = ctr_trained
    fresh = ctr_df(spark, 50, seed=2, with_null=True)
    registered = score(fresh, conf, "ctr", version=result.version, deep=deep).toPandas().sort_values("id")
    in_memory = score(fresh, conf, "ctr", version=result.version, deep=deep,
                      model=(result.model, result.spec)).toPandas().sort_values("id")
    assert result.spec["task"] == "ctr" and result.spec["dims"] == result.dims
    assert in_memory["p_purchase"].isna().sum() == 1
    np.testing.assert_allclose(in_memory["p_purchase"].fillna(-1).to_numpy(float),
                               registered["p_purchase"].fillna(-1).to_numpy(float), atol=1e-6)


@pytest.mark.timeout(300)
def test_registered_ctr_loads_back_and_serves_with_pyfunc(ctr_trained):
    import mlflow

    from debut.deep.registry import load_registered

    conf, deep, _, result = ctr_trained
    model, version = load_registered(conf, "debut_ctr", "latest")
    x = np.array([r[1] + r[2] for r in ctr_rows(8, seed=3)], np.float32)
    with torch.no_grad():
        native = model(torch.from_numpy(x)).numpy()
    assert version == 1
    np.testing.assert_allclose(native, result.model(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    served = np.asarray(mlflow.pyfunc.load_model("models:/debut_ctr/1").predict(x))
    np.testing.assert_allclose(served.reshape(-1), native.reshape(-1), atol=1e-5)


@pytest.mark.timeout(300)
@pytest.mark.slow   # a Horovod run, ~30 s
def test_uneven_partitions_train_equal_steps_without_hanging(spark, conf):
    """Petastorm row groups of 600, 20 and 5 rows: shards differ 30x, every rank does the same steps."""
    from debut.deep.train import train

    parts = [ctr_df(spark, n, seed=s).coalesce(1) for n, s in ((600, 0), (20, 1), (5, 2))]
    df = parts[0].union(parts[1]).union(parts[2])
    val = ctr_df(spark, 40, seed=3).coalesce(1).union(ctr_df(spark, 3, seed=4).coalesce(1))
    assert df.rdd.getNumPartitions() == 3
    deep = DeepConf(epochs=2, batch_size=4, patience=5, num_proc=2)
    result = train(spark, conf, df, "ctr", deep=deep, val_df=val, register=False)
    assert result.counts["min_shard_train_rows"] == 5 and result.counts["min_shard_val_rows"] == 3
    assert [h["epoch"] for h in result.history] == [0, 1]
    assert all(math.isfinite(h["val_loss"]) for h in result.history)
    assert os.listdir(conf.paths.petastorm_cache) == []      # converters deleted


@pytest.mark.timeout(300)
@pytest.mark.slow   # TorchDistributor training, ~25 s
def test_ctr_trains_with_torch_distributor(spark, conf):
    from debut.deep.train import train

    df = to_delta(ctr_df(spark, 2000), os.path.join(conf.paths.data_dir, "toy_ctr"))
    deep = DeepConf(epochs=4, batch_size=64, lr=5e-3, backend="torch_distributor")
    result = train(spark, conf, df, "ctr", deep=deep, register=False)
    assert result.best_val_loss < 0.45 and len(result.history) >= 2


def seq_df(spark, n: int, seed: int = 0):
    from pyspark.sql import types as T

    cats, evts, gaps, nxt, intent = seq_arrays(n, seed)
    rows = [(i, cats[i].tolist(), evts[i].tolist(), gaps[i].tolist(), int(nxt[i]), float(intent[i]))
            for i in range(n)]
    schema = T.StructType([T.StructField("user_key", T.LongType()),
                           T.StructField("seq_category", T.ArrayType(T.IntegerType())),
                           T.StructField("seq_event", T.ArrayType(T.IntegerType())),
                           T.StructField("seq_gap", T.ArrayType(T.FloatType())),
                           T.StructField("next_category", T.IntegerType()),
                           T.StructField("purchase_intent", T.DoubleType())])
    return spark.createDataFrame(rows, schema)


def demand_df(spark, n: int, seed: int = 0):
    from pyspark.sql import types as T

    attrs, text, ctx, y = demand_arrays(n, seed)
    rows = [(i, attrs[i].tolist(), text[i].tolist(), ctx[i].tolist(), float(y[i])) for i in range(n)]
    schema = T.StructType([T.StructField("candidate_id", T.LongType()),
                           T.StructField("attributes", T.ArrayType(T.FloatType())),
                           T.StructField("text_embedding", T.ArrayType(T.FloatType())),
                           T.StructField("category_context", T.ArrayType(T.FloatType())),
                           T.StructField("demand_log1p", T.DoubleType())])
    return spark.createDataFrame(rows, schema)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("task, columns", [
    ("sequence", ["user_key", "next_category", "purchase_intent", "next_category_probs", "top_category",
                  "p_purchase_intent"]),
    ("demand", ["candidate_id", "demand_log1p", "demand_q10", "demand_q50", "demand_q90",
                "units_q10", "units_q50", "units_q90"])])
def test_model_trains_a_few_steps_with_horovod_and_registered_version_scores(horovod_trained, task, columns):
    """Each model through the real path: Delta -> Petastorm -> horovod.spark.run (2 processes) -> MLflow."""
    from debut.deep.score import score

    conf, trained = horovod_trained
    df, deep, result = trained[task]
    assert (result.model_name, result.version) == (f"debut_{task}", 1)
    assert result.counts["effective_batch_size"] <= 32 and len(result.history) == 2
    pdf = score(df.limit(20), conf, task, version="latest", deep=deep).toPandas()
    assert list(pdf.columns) == columns and len(pdf) == 20
    assert pdf[columns[-1]].notna().all()
    assert os.listdir(conf.paths.petastorm_cache) == []      # converters deleted


# ----------------------------------------------------------- slower end to end
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sequence_model_end_to_end(spark, conf):
    from pyspark.sql import types as T

    from debut.deep.score import score
    from debut.deep.train import train

    cats, evts, gaps, nxt, intent = seq_arrays(3000)
    rows = [(i, cats[i].tolist(), evts[i].tolist(), gaps[i].tolist(), int(nxt[i]), float(intent[i]))
            for i in range(len(cats))]
    schema = T.StructType([T.StructField("user_key", T.LongType()),
                           T.StructField("seq_category", T.ArrayType(T.IntegerType())),
                           T.StructField("seq_event", T.ArrayType(T.IntegerType())),
                           T.StructField("seq_gap", T.ArrayType(T.FloatType())),
                           T.StructField("next_category", T.IntegerType()),
                           T.StructField("purchase_intent", T.DoubleType())])
    df = to_delta(spark.createDataFrame(rows, schema), os.path.join(conf.paths.data_dir, "toy_seq"))
    deep = DeepConf(epochs=8, batch_size=64, lr=1e-2, seq_len=SEQ_LEN, patience=8)
    result = train(spark, conf, df, "sequence", deep=deep)
    assert result.dims["num_categories"] == N_CAT and result.version == 1
    pdf = score(df.limit(500), conf, "sequence", deep=deep).toPandas()
    accuracy = float((pdf["top_category"] == pdf["next_category"]).mean())
    print("sequence: accuracy", accuracy, "intent auc", auc(pdf["purchase_intent"], pdf["p_purchase_intent"]))
    assert accuracy > 0.6                                  # chance is 1 / 5
    assert auc(pdf["purchase_intent"], pdf["p_purchase_intent"]) > 0.8


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demand_net_end_to_end(spark, conf):
    from pyspark.sql import types as T

    from debut.deep.score import score
    from debut.deep.train import train

    attrs, text, ctx, y = demand_arrays(3000)
    rows = [(i, attrs[i].tolist(), text[i].tolist(), ctx[i].tolist(), float(y[i])) for i in range(len(y))]
    schema = T.StructType([T.StructField("candidate_id", T.LongType()),
                           T.StructField("attributes", T.ArrayType(T.FloatType())),
                           T.StructField("text_embedding", T.ArrayType(T.FloatType())),
                           T.StructField("category_context", T.ArrayType(T.FloatType())),
                           T.StructField("demand_log1p", T.DoubleType())])
    df = to_delta(spark.createDataFrame(rows, schema), os.path.join(conf.paths.data_dir, "toy_demand"))
    deep = DeepConf(epochs=15, batch_size=64, lr=5e-3, patience=4)
    result = train(spark, conf, df, "demand", deep=deep)
    pdf = score(df, conf, "demand", deep=deep).toPandas()
    q = pdf[["demand_q10", "demand_q50", "demand_q90"]].to_numpy()
    assert bool((np.diff(q, axis=1) >= 0).all())
    inside = float(((pdf["demand_log1p"] >= q[:, 0]) & (pdf["demand_log1p"] <= q[:, 2])).mean())
    print("demand: coverage", inside, "best val pinball", result.best_val_loss, "epochs", len(result.history))
    assert 0.6 < inside < 0.97                              # nominal 0.8
    baseline = pinball_loss(torch.tensor(np.quantile(y, [0.1, 0.5, 0.9])).float().repeat(len(y), 1),
                            torch.from_numpy(y), (0.1, 0.5, 0.9)).item()
    print("demand: constant-quantile baseline", baseline)
    assert result.best_val_loss < 0.6 * baseline
    np.testing.assert_allclose(pdf["units_q50"], np.expm1(pdf["demand_q50"]), rtol=1e-9)
