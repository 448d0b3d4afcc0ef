"""build_features: gold tables describing items, customers, segments, sequences and intent labels.

Modules, one idea each:
  common     as-of cut-offs, the current catalog, the deterministic category order
  items      item content features (price bands, attribute hash vector, text)
  embed      offline sentence embeddings in a pandas UDF (model cached per executor)
  profile    customer profile: RFM, tenure, affinities, price sensitivity, sessions, taste
  segments   KMeans segmentation with k by silhouette, segment descriptions, audience mix
  sequences  last-N interaction sequences
  intent     purchase-intent labels per customer x category
  job        run(spark, conf, run_date)
"""
