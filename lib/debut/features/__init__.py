"""build_features: gold tables describing items, customers, segments, sequences and intent labels.

The definitions other stages recompute as of earlier dates live in debut.core
(catalog and category order, customer profile, behaviour sequences, user-item
weights); this package composes them with its own modules, one idea each:
  items      item content features (price bands, attribute hash vector, text)
  embed      offline sentence embeddings in a pandas UDF (model cached per executor)
  segments   KMeans segmentation with k by silhouette, segment descriptions
  intent     purchase-intent labels per customer x category
  job        run(spark, conf, run_date)
"""
