#!/usr/bin/env bash
# tests/k8s/validate.sh DIR: `make k8s-validate`. Installs the validator from
# the lockfile on first use (npm ci: the npm registry only, into
# tests/k8s/node_modules), then validates every manifest of DIR offline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: validate.sh DIR}
command -v node >/dev/null || { echo "k8s-validate: node missing (make deps)" >&2; exit 1; }
# node_modules as the lockfile says: npm writes its own copy of the lock there.
if [[ ! -f $here/node_modules/.package-lock.json ||
	$here/package-lock.json -nt $here/node_modules/.package-lock.json ]]; then
	command -v npm >/dev/null || { echo "k8s-validate: npm missing (make deps)" >&2; exit 1; }
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/validate.js" "$dir"
