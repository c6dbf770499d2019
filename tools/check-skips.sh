#!/usr/bin/env bash
# Fails when the test output ($1) reports a skipped test: a test skipped in CI is a hole.
set -u
n=$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "$1" | tail -n 1)
if [ -z "$n" ]; then echo "check-skips: no test summary in $1" >&2; exit 1; fi
if [ "$n" != 0 ]; then
  echo "check-skips: $n test(s) skipped:" >&2
  grep '^﹣\|# SKIP' "$1" >&2
  exit 1
fi
