"""Triggers: wait for vendor tasks in Airflow's triggerer, without a worker slot."""
