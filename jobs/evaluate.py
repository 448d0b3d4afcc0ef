"""spark-submit entry point for the 'evaluate' job: see `debut run evaluate --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/evaluate.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("evaluate")
