#!/usr/bin/env bash
# Create (or reuse) the virtualenv for one Airflow version and install the provider into it, editable,
# with its test tools. Prints the venv's path on the last line. Needs only python3 (>= 3.10) on PATH.
#
#   scripts/bootstrap.sh [AIRFLOW_VERSION]      default: the newest release CI proves (see Makefile)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-${AIRFLOW_VERSION:-3.3.2}}"
python="${PYTHON:-python3}"
venv=".venv/airflow-${version}"
tools=".venv/tools"
constraints="constraints/airflow-${version}.txt"

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "bootstrap: Python >= 3.10 is needed; set PYTHON=/path/to/python3" >&2; exit 1; }

# uv resolves and installs Airflow's ~470 packages in seconds where pip takes minutes.
if [ ! -x "$tools/bin/uv" ]; then
  echo "bootstrap: installing uv into $tools" >&2
  "$python" -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check uv
fi
uv="$tools/bin/uv"

# Reinstall only when the inputs changed: the stamp is a hash of pyproject.toml and the constraints.
stamp="$venv/.videotask-stamp"
want=$(cat pyproject.toml "$constraints" 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing apache-airflow==${version} and the provider into $venv" >&2
  [ -x "$venv/bin/python" ] || "$uv" venv --quiet --python "$python" "$venv"
  # test-s3: the Amazon provider, s3fs and moto's server, so the s3:// tests run on every Airflow CI proves.
  args=(-e ".[test,test-s3]" "apache-airflow==${version}")
  if [ -f "$constraints" ]; then
    args+=(--constraint "$constraints")
  else
    echo "bootstrap: no $constraints, resolving the newest compatible packages" >&2
  fi
  VIRTUAL_ENV="$venv" "$uv" pip install --quiet "${args[@]}"
  echo "$want" > "$stamp"
fi
echo "$venv"
