"""debut: new-product launch planning on Spark + Delta."""
__version__ = "0.1.0"
