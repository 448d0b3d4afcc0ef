"""forecast: demand of new products over their first weeks, with calibrated quantiles.

Spark reads and aggregates (``inputs``); the forecaster itself runs with
pandas/scikit-learn on the driver, on per-launch and per-candidate rows
bounded by the number of past launches and candidates (thousands, not
millions): no customer-level data is collected. ``global_model`` is the
forecaster (Poisson gradient boosting over hierarchical encodings, analogs and
attributes; ``distribution`` its out-of-time calibrated predictive
distribution; ``curves`` the weekly shape per hierarchy level), ``harness``
the strictly causal backtest with its baselines, ``launches`` the checking of
history files as they come, ``file`` the ``debut forecast-file`` and
``debut backtest-file`` commands (no Spark), ``bench`` the Olist benchmark,
``job`` the forecast_launch stage and ``backtest`` its backtest. ``model``,
``knn``, ``blend`` and ``content`` are the earlier kNN blend (``content``
still gives the catalog signal, ``model.Signals`` the optional signals).
"""
