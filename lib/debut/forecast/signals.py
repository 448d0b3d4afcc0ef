"""Optional signals beyond the launch history, as extra columns of the global model's tables.

Embeddings become the ``embedding`` column (its PCA components are features);
the audience strength of an item its ``audience_*`` columns; the demand
network's median ``net_log`` (left empty for launches the network trained on:
its values for them are in-sample); catalog items' sales rate on attributes
(``debut.forecast.content``, never trained on past launches) ``content_log``.
Each is optional: without it the columns are simply absent.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import pandas as pd

from debut.forecast import content, market
from debut.forecast.launches import DATE, ID, horizon_of
from debut.forecast.model import Signals


def attach(history: pd.DataFrame, cands: pd.DataFrame, sig: Signals, *, use_content: bool = True,
           ridge_alpha: float = 3.0, min_items: int = 20,
           content_launches: bool = True) -> Tuple[pd.DataFrame, pd.DataFrame, list]:
    """(history, candidates, names of the signals used) with the signal columns added.
    ``content_launches``: the content ridge learns from the past launches too (out of fold for
    their own rows), not from the catalog items alone."""
    h, c, used = history.copy(), cands.copy(), []
    if sig.embeddings:
        for df in (h, c):
            df["embedding"] = [sig.embeddings.get(i) for i in df[ID]]
        used.append("embedding")
    if sig.audience is not None and len(sig.audience):
        cols = [k for k in content.AUDIENCE_FEATURES if k in sig.audience.columns]
        aud = sig.audience[[ID, *cols]].drop_duplicates(ID)
        h, c = h.merge(aud, on=ID, how="left"), c.merge(aud, on=ID, how="left")
        used.append("audience")
    if sig.net is not None and len(sig.net):
        net = sig.net[[ID, "net_log"]].drop_duplicates(ID)
        h, c = h.merge(net, on=ID, how="left"), c.merge(net, on=ID, how="left")
        if sig.net_trained_before is not None and DATE in h.columns:
            seen = pd.to_datetime(h[DATE]).dt.date.to_numpy() < sig.net_trained_before
            h.loc[seen, "net_log"] = np.nan
        if h["net_log"].notna().sum() >= 5:
            used.append("net")
        else:
            h, c = h.drop(columns=["net_log"]), c.drop(columns=["net_log"])
    if sig.market is not None and len(sig.market) and DATE in h.columns and "category" in h.columns:
        h = market.attach(h, sig.market)
        if DATE in c.columns and "category" in c.columns:
            c = market.attach(c, sig.market)
        if market.has_market(h):
            used.append("market")
    if use_content and sig.catalog is not None and len(sig.catalog) >= 2:
        for df in (h, c):
            for col in ("subcategory", "brand", "colour", "material", "style", "price", "category"):
                if col not in df.columns:
                    df[col] = None
        if content_launches:
            h["content_log"], c["content_log"] = content.content_log(
                h, c, sig.catalog, alpha=ridge_alpha, min_items=min_items, horizon=horizon_of(h))
        else:
            model = content.ContentModel(ridge_alpha, min_items).fit(sig.catalog)
            h["content_log"], c["content_log"] = model.predict(h), model.predict(c)
        used.append("content")
    return h, c, used
