"""aggregate: bronze events/orders/catalog -> silver sessions, item/category days,
user-item weights, and gold.launch_history.

Pure transforms live in ``sessions``, ``items`` and ``launch`` (user-item weights
and the catalog as of a date in debut.core, shared with later stages);
``job.run`` decides what to recompute and writes it.
"""
