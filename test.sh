#!/usr/bin/env bash
# Runs every test, as CI does (.ci/run calls this script): first installs
# the browser tests' locked npm packages (test/ui, from package-lock.json)
# if they are missing or older than the lock file, then runs
# `go test -race ./...` and prints one line per package, the output of any
# test that failed, and every skipped test with its reason (test/report).
# Arguments are passed to go test, e.g. ./test.sh -count=1 -run TestTour
# (with arguments, the full-size memory test at the end is left out).
# Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")"

ui=test/ui
if [ ! -f $ui/node_modules/playwright-core/package.json ] || [ $ui/package-lock.json -nt $ui/node_modules/.package-lock.json ]; then
	if command -v npm >/dev/null; then
		echo "== browser test packages (npm ci --prefix $ui)"
		npm ci --prefix $ui --no-audit --no-fund --loglevel=error >/dev/null
	else
		echo "== npm is missing: the browser tests will be skipped (apt-get install nodejs npm chromium)"
	fi
fi

echo "== go test -race ./..."
go test -race -timeout 30m -json "$@" ./... | go run ./test/report

# Under the race detector the version-database memory test reads a smaller
# database; the whole suite (no arguments) also runs it once at its full
# size, 1,000,000 fields, without it (issue 16's budget, docs/benchmarks.md).
if [ $# -eq 0 ]; then
	echo "== the 1,000,000-field version database and diff, without the race detector"
	go test -count=1 -run '^Test(VersionDB|Diff)BoundedMemory$' ./internal/mimei/
fi
