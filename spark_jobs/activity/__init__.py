"""The activity-log job: validate, deduplicate, file late events, sessionise, build facts.

Entry points: ``jiaoyan spark activity`` (:mod:`spark_jobs.activity.cli`), and
``spark-submit spark_jobs/activity_job.py`` on a cluster. Keep this module free of
imports: Python workers import it to run :mod:`spark_jobs.activity.check`.
"""
