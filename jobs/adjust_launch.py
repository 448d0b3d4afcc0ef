"""spark-submit entry point for the 'adjust_launch' job: see `debut run adjust_launch --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/adjust_launch.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("adjust_launch")
