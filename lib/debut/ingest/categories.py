"""Categories for catalog rows of an export: the user's mapping, the export's own,
or a two-level hierarchy derived from the titles; ``category_source`` says which.

Order of precedence, per item:
  mapping  ingest.categories_file (``debut import --categories FILE``): CSV or Parquet
           with item_id, category and optionally subcategory; ids normalised as the
           format's own (e.g. upper-case UCI stock codes).
  given    the export's category (renamed by ingest.category_names_file when set).
  derived  no category anywhere but a title: TF-IDF of the titles, SVD, then KMeans
           (ingest.derived_categories clusters, ingest.derived_subcategories within
           each), seeded; fitted on the distinct normalised titles in sorted order
           (a hash-chosen sample of at most MAX_FIT_TITLES), so the same titles give
           the same hierarchy whatever the row order. Named from the most frequent
           words: category "bag", subcategory "lunch bag" (read "bag > lunch bag").
  none     neither: "uncategorised".
"""
from __future__ import annotations

import collections
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from debut.config import Config, ConfigError

UNCATEGORISED = "uncategorised"
MAX_FIT_TITLES = 20000        # distinct titles the clustering is fitted on (the rest are assigned)
_TOKEN = r"(?u)\b[^\W\d_]{2,}\b"   # words of letters only: "15CM" and "20" name nothing


# ------------------------------------------------------------------ files
def read_small_table(spark: SparkSession, path: str, key: str) -> DataFrame:
    """A user's side file (CSV with a header, or Parquet), every column as a string."""
    if path.rstrip("/").endswith(".parquet"):
        df = spark.read.parquet(path)
        return df.select([F.col(f"`{c}`").cast("string").alias(c.strip()) for c in df.columns])
    try:
        df = spark.read.option("header", True).option("quote", '"').option("escape", '"').csv(path)
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable file is the user's to fix
        raise ConfigError(f"key '{key}' ({path}): cannot read: {str(exc).splitlines()[0]}") from None
    return df.select([F.col(f"`{c}`").alias(c.strip()) for c in df.columns])


def _column(df: DataFrame, names: Sequence[str]) -> Optional[str]:
    by_norm = {c.strip().lower(): c for c in df.columns}
    return next((by_norm[n] for n in names if n in by_norm), None)


def read_mapping(spark: SparkSession, path: str, id_norm: Callable[[Column], Column]) -> DataFrame:
    """item_id, _map_category, _map_subcategory: one row per item of the mapping file."""
    key = "ingest.categories_file"
    df = read_small_table(spark, path, key)
    item, cat = _column(df, ("item_id",)), _column(df, ("category",))
    if item is None or cat is None:
        raise ConfigError(f"key '{key}' ({path}): needs columns item_id,category[,subcategory]; "
                          f"found {', '.join(df.columns)}")
    sub = _column(df, ("subcategory",))
    rows = (df.select(id_norm(F.col(f"`{item}`")).alias("item_id"),
                      F.trim(F.col(f"`{cat}`")).alias("_map_category"),
                      (F.trim(F.col(f"`{sub}`")) if sub else F.lit(None).cast("string")).alias("_map_subcategory"))
            .where((F.col("item_id") != "") & (F.col("_map_category") != "")).distinct())
    clashes = (rows.groupBy("item_id").agg(F.count(F.lit(1)).alias("n")).where(F.col("n") > 1)
               .select("item_id").limit(3).collect())
    if clashes:
        raise ConfigError(f"key '{key}' ({path}): items mapped twice with different categories: "
                          + ", ".join(r.item_id for r in clashes))
    return rows.withColumn("_map_subcategory", F.when(F.col("_map_subcategory") != "", F.col("_map_subcategory")))


def read_category_names(spark: SparkSession, path: str) -> DataFrame:
    """_from, _to: the first column as exported, the second the name to use."""
    df = read_small_table(spark, path, "ingest.category_names_file")
    if len(df.columns) < 2:
        raise ConfigError(f"key 'ingest.category_names_file' ({path}): needs two columns "
                          f"(category as exported, name to use); found {', '.join(df.columns)}")
    a, b = df.columns[:2]
    return (df.select(F.trim(F.col(f"`{a}`")).alias("_from"), F.trim(F.col(f"`{b}`")).alias("_to"))
            .where(F.col("_from").isNotNull() & (F.col("_to") != "")).dropDuplicates(["_from"]))


# ------------------------------------------------------------------ derived hierarchy
def normalise_title(title: Column) -> Column:
    return F.lower(F.regexp_replace(F.trim(title), r"\s+", " "))


def _grams(title: str, tokens: Callable[[str], List[str]], ngram: int) -> set:
    words = tokens(title)
    grams = {" ".join(words[i:i + ngram]) for i in range(len(words) - ngram + 1)} if ngram > 1 else set()
    return grams or set(words)


def _names(groups: Sequence[List[str]], tokens: Callable[[str], List[str]], taken: set,
           ngram: int) -> List[str]:
    """A readable, unique name per group of titles: its most frequent n-gram (document
    frequency; ties alphabetical) that not every title of all the groups shares,
    else the next one, else numbered."""
    everywhere = set.intersection(*[_grams(t, tokens, ngram) for g in groups for t in g]) \
        if len(groups) > 1 else set()
    out = []
    for titles in groups:
        counts = collections.Counter()
        for t in titles:
            counts.update(_grams(t, tokens, ngram))
        ranked = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        ranked = [w for w in ranked if w not in everywhere] + [w for w in ranked if w in everywhere]
        name = next((w for w in ranked if w not in taken), None)
        if name is None:
            base = ranked[0] if ranked else "group"
            name = next(f"{base} {i}" for i in range(2, 10_000) if f"{base} {i}" not in taken)
        taken.add(name)
        out.append(name)
    return out


class TitleHierarchy:
    """Two-level clusters of titles with names; ``assign`` maps titles to (category, subcategory)."""

    def __init__(self, titles: Sequence[str], *, k1: int, k2: int, seed: int):
        import numpy as np
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        titles = sorted(set(titles))
        self.vec = TfidfVectorizer(token_pattern=_TOKEN, stop_words="english", sublinear_tf=True)
        x = self.vec.fit_transform(titles)          # ValueError: no word in any title
        n_comp = min(50, x.shape[1] - 1, len(titles) - 1)
        self.svd = TruncatedSVD(n_comp, random_state=seed).fit(x) if n_comp >= 2 else None
        z = self._embed_matrix(x)
        self.top = self._kmeans(z, k1, seed)
        top = self.top.predict(z) if self.top is not None else np.zeros(len(titles), dtype=int)
        tokens = self.vec.build_analyzer()
        groups = [[t for t, c in zip(titles, top) if c == k] for k in range(int(top.max()) + 1)]
        self.categories = _names(groups, tokens, set(), ngram=1)
        self.subs: Dict[int, object] = {}
        self.subnames: Dict[int, List[str]] = {}
        for k in range(len(groups)):
            idx = np.flatnonzero(top == k)
            self.subs[k] = self._kmeans(z[idx], k2, seed)
            sub = self.subs[k].predict(z[idx]) if self.subs[k] is not None else np.zeros(len(idx), dtype=int)
            subgroups = [[titles[i] for i, s in zip(idx, sub) if s == j] for j in range(int(sub.max()) + 1)]
            self.subnames[k] = _names(subgroups, tokens, {self.categories[k]}, ngram=2)

    def _embed_matrix(self, x):
        from sklearn.preprocessing import normalize
        z = self.svd.transform(x) if self.svd is not None else x.toarray()
        return normalize(z)

    @staticmethod
    def _kmeans(z, k: int, seed: int):
        import numpy as np
        from sklearn.cluster import KMeans
        distinct = len(np.unique(z.round(8), axis=0))
        k = min(k, distinct)
        if k < 2:
            return None
        return KMeans(n_clusters=k, random_state=seed, n_init=10).fit(z)

    def assign(self, titles: pd.Series) -> Tuple[List[str], List[str]]:
        import numpy as np
        z = self._embed_matrix(self.vec.transform(titles.tolist()))
        top = self.top.predict(z) if self.top is not None else np.zeros(len(titles), dtype=int)
        cats, subs = [], []
        for i, k in enumerate(top):
            model = self.subs[int(k)]
            j = int(model.predict(z[i:i + 1])[0]) if model is not None else 0
            cats.append(self.categories[int(k)])
            subs.append(self.subnames[int(k)][j])
        return cats, subs


def fit_hierarchy(titles: DataFrame, conf: Config) -> Optional[TitleHierarchy]:
    """Fit on the distinct normalised titles (``_title`` column); None when there is
    nothing to name (no title with a word)."""
    sample = [r._title for r in titles.select("_title").distinct()
              .orderBy(F.xxhash64("_title"), "_title").limit(MAX_FIT_TITLES).collect()]  # bounded
    if not sample:
        return None
    ic = conf.ingest
    try:
        return TitleHierarchy(sample, k1=ic.derived_categories, k2=ic.derived_subcategories, seed=ic.category_seed)
    except ValueError:      # empty vocabulary: titles without words
        return None


def derive(titled: DataFrame, model: TitleHierarchy) -> DataFrame:
    """item_id, _title -> item_id, _der_category, _der_subcategory (pandas, per partition)."""
    def run(batches):
        for pdf in batches:
            cats, subs = model.assign(pdf["_title"]) if len(pdf) else ([], [])
            yield pd.DataFrame({"item_id": pdf["item_id"], "_der_category": cats, "_der_subcategory": subs})
    return titled.select("item_id", "_title").mapInPandas(
        run, "item_id string, _der_category string, _der_subcategory string")


# ------------------------------------------------------------------ assignment
def assign(spark: SparkSession, conf: Config, items: DataFrame, *,
           id_norm: Callable[[Column], Column] = F.trim) -> DataFrame:
    """``items`` (item_id, category, subcategory, title, ...) with category, subcategory
    and category_source filled by precedence mapping > given > derived > none."""
    ic = conf.ingest
    df = items
    if ic.category_names_file:
        names = read_category_names(spark, ic.category_names_file)
        df = (df.join(F.broadcast(names), on=F.col("category") == F.col("_from"), how="left")
              .withColumn("category", F.coalesce(F.col("_to"), F.col("category"))).drop("_from", "_to"))
    if ic.categories_file:
        df = df.join(read_mapping(spark, ic.categories_file, id_norm), on="item_id", how="left")
    else:
        df = (df.withColumn("_map_category", F.lit(None).cast("string"))
              .withColumn("_map_subcategory", F.lit(None).cast("string")))
    given = F.col("category").isNotNull() & (F.trim(F.col("category")) != "")
    df = df.withColumn("_title", F.when(F.col("title").isNotNull(), normalise_title(F.col("title"))))
    need = F.col("_map_category").isNull() & ~given & F.col("_title").isNotNull() & (F.col("_title") != "")
    titled = df.where(need).select("item_id", "_title")
    model = fit_hierarchy(titled, conf) if titled.limit(1).count() else None
    if model is not None:
        df = df.join(derive(titled, model), on="item_id", how="left")
    else:
        df = (df.withColumn("_der_category", F.lit(None).cast("string"))
              .withColumn("_der_subcategory", F.lit(None).cast("string")))
    mapped, derived = F.col("_map_category").isNotNull(), F.col("_der_category").isNotNull()
    source = (F.when(mapped, F.lit("mapping")).when(given, F.lit("given"))
              .when(derived, F.lit("derived")).otherwise(F.lit("none")))
    category = (F.when(mapped, F.col("_map_category")).when(given, F.trim(F.col("category")))
                .when(derived, F.col("_der_category")).otherwise(F.lit(UNCATEGORISED)))
    subcategory = (F.when(mapped, F.col("_map_subcategory")).when(given, F.col("subcategory"))
                   .when(derived, F.col("_der_subcategory")))
    return (df.withColumns({"category_source": source, "category": category, "subcategory": subcategory})
            .drop("_map_category", "_map_subcategory", "_der_category", "_der_subcategory", "_title"))
