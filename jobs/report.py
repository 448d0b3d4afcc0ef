"""spark-submit entry point for the 'report' job: see `debut run report --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/report.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("report")
