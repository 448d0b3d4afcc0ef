"""The stage-free layer: what several stages need (table contracts, metrics,
quantile names, catalog and user-item as of a date).

Stage packages (simulate, ingest, aggregate, features, recommend, deep,
forecast, optimize, evaluate, adjust, report) import only this layer,
``debut.config``, ``debut.io``, ``debut.spark``, ``debut.schemas`` and
``debut.tracking``, never each other; a result one stage needs from another
is a table. ``debut.core`` itself imports no stage package.
"""
