"""spark-submit entry point for the 'evaluate_truth' job (simulator only): see `debut run evaluate_truth --help`.

    spark-submit --py-files dist/debut-0.1.0-py3-none-any.whl jobs/evaluate_truth.py --env cluster --run-date 2026-10-01
"""
from debut.cli import job_main

if __name__ == "__main__":
    job_main("evaluate_truth")
