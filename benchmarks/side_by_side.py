"""What the stack benchmarks share: an Airflow that runs many tasks at once, and their results side by side."""

from __future__ import annotations


def many_tasks(count: int) -> dict[str, str]:
    """Airflow settings (environment) that let ``count`` tasks of one run go at once, mapped or not."""
    return {
        "AIRFLOW__CORE__PARALLELISM": "64",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(128, count)),
        "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, count)),
    }


def print_table(results: dict[str, dict[str, str]], column: int) -> None:
    """One column per way of doing it, one row per figure."""
    rows = list(next(iter(results.values())))
    width = max(len(row) for row in rows)
    print(f"\n{'':{width}}  " + "  ".join(f"{way:>{column}}" for way in results))
    for row in rows:
        print(f"{row:{width}}  " + "  ".join(f"{results[way][row]:>{column}}" for way in results))
