"""spark-submit entry point for the 'optimize_launch' job: see `debut run optimize_launch --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/optimize_launch.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("optimize_launch")
