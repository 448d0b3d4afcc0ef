"""Spark DataFrame -> Petastorm cache -> sharded torch data loaders.

Every training process reads shard ``rank`` of ``size`` (Petastorm shards by
parquet row group) with ``num_epochs=None`` and stops after a number of steps
computed on the driver, the same on every rank: uneven shards then never
leave one rank waiting in an allreduce for another that ran out of data.
"""
from __future__ import annotations

import contextlib
import logging
import math
from typing import Dict, Iterator, List
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession

from debut.config import Config
from debut.deep.conf import DeepConf, petastorm_cache_url

log = logging.getLogger(__name__)


def set_cache_dir(spark: SparkSession, conf: Config, deep: DeepConf) -> str:
    """Point Petastorm's converter at the configured parent cache dir; returns the URL."""
    from petastorm.spark import SparkDatasetConverter

    url = petastorm_cache_url(conf, deep)
    spark.conf.set(SparkDatasetConverter.PARENT_CACHE_DIR_URL_CONF, url)
    return url


def with_min_partitions(df: DataFrame, num_shards: int) -> DataFrame:
    """At least one parquet file (row group) per shard, else Petastorm refuses to shard."""
    if df.rdd.getNumPartitions() < num_shards:
        return df.repartition(num_shards)
    return df


@contextlib.contextmanager
def converters(spark: SparkSession, conf: Config, deep: DeepConf,
               frames: Dict[str, DataFrame]) -> Iterator[Dict[str, "SparkDatasetConverter"]]:  # noqa: F821
    """Materialise each frame with ``make_spark_converter``; delete the caches on exit."""
    from petastorm.spark import make_spark_converter

    set_cache_dir(spark, conf, deep)
    made: Dict[str, object] = {}
    try:
        for key, df in frames.items():
            made[key] = make_spark_converter(with_min_partitions(df, deep.num_proc))
        yield made
    finally:
        deleted = set()
        for conv in made.values():
            if conv.cache_dir_url in deleted:
                continue
            deleted.add(conv.cache_dir_url)
            try:
                conv.delete()
            except Exception as exc:  # cleanup must not mask the real error
                log.warning("could not delete petastorm cache %s: %s", conv.cache_dir_url, exc)


def _open(url: str):
    import pyarrow.fs as pafs

    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return pafs.LocalFileSystem().open_input_file(unquote(parsed.path))
    fs, path = pafs.FileSystem.from_uri(url)
    return fs.open_input_file(path)


def row_group_sizes(file_urls: List[str]) -> List[int]:
    """Rows of every parquet row group of a converter's files."""
    import pyarrow.parquet as pq

    sizes: List[int] = []
    for url in file_urls:
        with _open(url) as f:
            meta = pq.ParquetFile(f).metadata
            sizes += [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return sizes


def min_shard_rows(converter, num_shards: int) -> int:
    """A lower bound of the rows any one shard gets.

    Petastorm gives shard ``k`` the row groups whose index is ``k`` mod
    ``num_shards``; every shard therefore holds at least ``floor(R / S)`` row
    groups, and those hold at least as many rows as the smallest ones.
    """
    from petastorm.errors import NoDataAvailableError

    try:
        sizes = sorted(row_group_sizes(converter.file_urls))
    except Exception as exc:  # metadata unreadable: assume even files
        log.warning("could not read parquet metadata (%s); assuming even shards", exc)
        return len(converter) // num_shards
    if len(sizes) < num_shards:
        raise NoDataAvailableError(
            f"{len(sizes)} parquet row group(s) for {num_shards} shards: too little data for "
            f"deep.num_proc={num_shards} (rows: {len(converter)})")
    return sum(sizes[:len(sizes) // num_shards])


def steps_per_epoch(min_rows: int, batch_size: int) -> int:
    """Full batches the smallest shard can fill (at least 1: the reader loops, num_epochs=None)."""
    return max(1, min_rows // batch_size)


def val_steps(min_rows: int, batch_size: int) -> int:
    """Validation batches per epoch: about one pass over the smallest shard."""
    return max(1, math.ceil(min_rows / batch_size))


def head_rows(converter, n: int):
    """The first ``n`` rows of a converter's cache as pandas, read from its parquet files (no Spark job)."""
    import pandas as pd
    import pyarrow.parquet as pq

    parts, rows = [], 0
    for url in converter.file_urls:
        if rows >= n:
            break
        with _open(url) as f:
            table = pq.read_table(f)
        parts.append(table.slice(0, n - rows).to_pandas())
        rows += len(parts[-1])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def open_loader(converter, *, rank: int, size: int, batch_size: int, shuffle: bool, seed: int,
                shuffle_buffer: int = 0):
    """Context manager of an endless Petastorm torch loader over shard ``rank`` of ``size``.

    Petastorm's BatchedDataLoader: columnar batches into a torch shuffling buffer (seeded by
    torch.manual_seed). Its row-by-row DataLoader preallocates a Python list of 10^8 slots for
    the shuffling buffer (about 800 MB in every training process) and collates row by row."""
    from petastorm.pytorch import BatchedDataLoader

    return converter.make_torch_dataloader(
        data_loader_fn=BatchedDataLoader,
        batch_size=batch_size,
        num_epochs=None,
        reader_pool_type="dummy",          # the thread pool sometimes yields an empty shard
        cur_shard=rank,
        shard_count=size,
        shuffling_queue_capacity=shuffle_buffer if shuffle else 0,
        shuffle_row_groups=shuffle,
        seed=seed + rank if shuffle else None,
    )

