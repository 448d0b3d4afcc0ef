"""The keyed hash that pseudonymises customer ids: ingest applies it to every landing row, the
simulator's truth-side checks to the truth's raw ids so they can be matched with user_key."""
from __future__ import annotations

import hashlib
import hmac
import os

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from debut.config import ConfigError

# A fixed, public key for the simulated demo only (conf ingest.allow_dev_hash_key).
_DEV_KEY = "debut-demo-key-not-secret"


def hash_key(conf) -> bytes:
    """The pseudonymisation key from the environment (never from conf files)."""
    value = os.environ.get(conf.ingest.hash_key_env)
    if value:
        return value.encode("utf-8")
    if conf.ingest.allow_dev_hash_key:
        return _DEV_KEY.encode("utf-8")
    raise ConfigError(f"environment variable {conf.ingest.hash_key_env} is not set: it holds the key that "
                      f"pseudonymises customer ids (set it, or ingest.allow_dev_hash_key: true for demo data)")


def hmac_reference(key: bytes, value: str) -> str:
    """Python HMAC-SHA256 of a user id: what ``with_user_key`` computes in Spark."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def with_user_key(df: DataFrame, key: bytes, *, src: str = "user_id", dst: str = "user_key") -> DataFrame:
    """HMAC-SHA256(key, user id) with built-in functions; the raw id column is dropped.

    The key reaches the plan only inside a one-row broadcast relation, so it is
    not printed by explain() or the UI (which show literals), and is never
    written anywhere.
    """
    block = 64
    k = hashlib.sha256(key).digest() if len(key) > block else key
    k = k.ljust(block, b"\0")
    ipad = bytes(b ^ 0x36 for b in k)
    opad = bytes(b ^ 0x5C for b in k)
    spark = df.sparkSession
    pads = spark.createDataFrame([(bytearray(ipad), bytearray(opad))], "_ipad binary, _opad binary")
    inner = F.unhex(F.sha2(F.concat(F.col("_ipad"), F.col(src).cast("binary")), 256))
    mac = F.sha2(F.concat(F.col("_opad"), inner), 256)
    return (df.crossJoin(F.broadcast(pads))
            .withColumn(dst, F.when(F.col(src).isNull() | (F.col(src) == ""), F.lit(None)).otherwise(mac))
            .drop("_ipad", "_opad", src))
