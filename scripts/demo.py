"""The README's demo: both hooks against the local sandbox. Submit, wait, print the video URLs.

Runs offline and costs nothing. To use the real vendors instead, define the connections
``hidream_default`` / ``hailuo_default`` with your API tokens (see the README) and call the same hooks.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

# Airflow reads its home at import time: keep the demo's files out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="videotask-demo-"))

from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.models import VideoTask
from airflow_provider_videotask.sandbox import Sandbox

PROMPTS = {
    "HiDream": ["a red fox running through fresh snow", "a lighthouse at dusk, waves crashing [videos=2]"],
    "Hailuo": ["a paper boat drifting down a rainy street", "a robot chef flipping pancakes [fail]"],
}


def main() -> int:
    with Sandbox(duration=3) as sandbox:
        for conn_id, conn_type in (("hidream_default", "hidream"), ("hailuo_default", "hailuo")):
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
                {"conn_type": conn_type, "host": sandbox.url, "password": "sandbox-token"}
            )
        print(f"Sandbox serving both vendor APIs at {sandbox.url}\n")
        hooks = {"HiDream": HiDreamHook(), "Hailuo": HailuoHook()}
        submitted = {
            "HiDream": [hooks["HiDream"].submit("txt2video", prompt=p) for p in PROMPTS["HiDream"]],
            "Hailuo": [hooks["Hailuo"].submit(p) for p in PROMPTS["Hailuo"]],
        }
        results: dict[str, list[VideoTask]] = {}
        for vendor, task_ids in submitted.items():
            while True:  # one batch request per poll for all of this vendor's tasks
                results[vendor] = hooks[vendor].get_tasks(task_ids)
                if all(task.state.is_terminal for task in results[vendor]):
                    break
                done = sum(task.state.is_terminal for task in results[vendor])
                print(f"{vendor}: {done}/{len(task_ids)} done, waiting...")
                time.sleep(1)
        print()
        print(f"{'vendor':8} {'prompt':50} {'state':10} video")
        for vendor, tasks in results.items():
            for prompt, task in zip(PROMPTS[vendor], tasks, strict=True):
                print(f"{vendor:8} {prompt[:50]:50} {task.state.value:10} {', '.join(task.video_urls) or task.error}")
        counts = sandbox.counts()
        print(f"\nThe sandbox served {counts['requests']} requests ({counts['tasks_created']} paid submits).")
    ok = all(task.state.value == "succeeded" for task in results["HiDream"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
