"""forecast: demand of new products over their first weeks, with calibrated quantiles.

Spark reads and aggregates (``inputs``); the forecaster itself (``model``,
``knn``, ``content``, ``blend``, ``curves``) runs with pandas/numpy on the
driver, on per-launch and per-candidate rows bounded by the number of past
launches, catalog items and candidates (thousands, not millions): no
customer-level data is collected. ``job`` is the forecast_launch stage,
``backtest`` its rolling-origin evaluation, ``file`` the ``debut forecast-file``
command that forecasts from a launch-history file alone.
"""
