"""aggregate: bronze events/orders/catalog -> silver sessions, item/category days,
user-item weights, and gold.launch_history.

Pure transforms live in ``sessions``, ``items``, ``user_item`` and ``launch``;
``job.run`` decides what to recompute and writes it.
"""
