"""The steps the Airflow DAGs run, as plain tested functions.

The DAG files in ``dags/`` stay thin: each task calls one function here, which calls the component
that owns the work (``ray_inference``, ``spark_jobs``, ``jiaoyan.load``, ``expectations``, dbt through
``jiaoyan.dbt_runner``, ``behaviour_model``). Every step is idempotent, so clearing and rerunning any
task, or a whole night, is safe. ``jiaoyan pipeline …`` runs the same steps without Airflow.
"""
