"""The videos of a DAG run, on one page of the Airflow UI (a "Videos" tab on the run, Airflow 3.1+): what each
video task made, from its XComs (``tiles.py``), drawn as HTML (``page.py``), for signed-in users who may read
the DAG (``access.py``), played from the kept copies in object storage (``sources.py``). ``routes.py`` serves
them in the provider's api-server app (``plugin.py``). See ``docs/videos.md``.
"""
