#!/usr/bin/env bash
# Create (or bring up to date) the two Python environments. Idempotent: an environment whose lock
# file has not changed since it was installed is left alone, so a warm `make run` skips this in
# well under a second.
#
#   .venv/rasa  Python 3.10  Rasa 3.6 (pins pydantic 1 and TensorFlow 2.12)   requirements/rasa.lock
#   .venv/app   Python 3.11  actions, knowledge, gateway, tests               requirements/app.lock
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.10 -> path of a working python3.10
  local want=$1 candidate
  for candidate in "$(command -v "python$want" 2>/dev/null || true)" \
                   "$(pyenv root 2>/dev/null)"/versions/"$want".*/bin/python \
                   /root/.pyenv/versions/"$want".*/bin/python \
                   /usr/local/bin/python"$want" /usr/bin/python"$want"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if "$candidate" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_env() {  # install_env NAME PYTHON_VERSION LOCKFILE
  local name=$1 version=$2 lock=$3 venv=.venv/$1 python stamp
  stamp=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.installed" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  if ! python=$(find_python "$version"); then
    echo "setup: Python $version was not found on PATH or under pyenv." >&2
    echo "setup: install it, for example 'pyenv install $version' or 'apt-get install python$version python$version-venv'," >&2
    echo "setup: then run this again." >&2
    return 1
  fi
  echo "setup: installing $venv from $lock with $python (first run takes a few minutes)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip wheel
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
  echo "$stamp" > "$venv/.installed"
  echo "setup: $venv ready"
}

mkdir -p .venv
# The two installs are independent: run them side by side.
install_env rasa 3.10 requirements/rasa.lock > .venv/setup-rasa.log 2>&1 &
rasa_pid=$!
status=0
install_env app 3.11 requirements/app.lock || status=$?
if ! wait "$rasa_pid"; then
  status=1
fi
cat .venv/setup-rasa.log
exit "$status"
