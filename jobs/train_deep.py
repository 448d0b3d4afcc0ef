"""spark-submit entry point for the 'train_deep' job: see `debut run train_deep --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/train_deep.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("train_deep")
