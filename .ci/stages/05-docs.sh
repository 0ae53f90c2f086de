#!/usr/bin/env bash
# Documentation checks: docs/api.md is the shared HTTP contract byte for byte (when the shared copy is
# beside the repository, as in CI), every relative link in the Markdown resolves, every Makefile target
# has the `## target:` line `make help` prints, and README.md stays a five-minute read.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHARED_API_MD="${SHARED_API_MD:-../shared/API.md}"
README_MAX_BYTES=10240

echo "--- docs/api.md = $SHARED_API_MD"
if [ -f "$SHARED_API_MD" ]; then
  if ! cmp -s docs/api.md "$SHARED_API_MD"; then
    diff -u "$SHARED_API_MD" docs/api.md | head -n 40 || true
    echo "docs/api.md differs from $SHARED_API_MD: copy the contract again (cp $SHARED_API_MD docs/api.md)"
    exit 1
  fi
  echo "docs/api.md is identical to $SHARED_API_MD"
else
  echo "skipped: $SHARED_API_MD is not there (a clone on its own carries only docs/api.md)"
fi

echo "--- relative links in README.md, docs/*.md, bench/README.md"
python3 .ci/check_links.py

echo "--- every Makefile target has a '## target: description' line (make help)"
targets=$(sed -n 's/^\.PHONY:\(.*\)/\1/p' Makefile | tr ' ' '\n' | sed '/^$/d' | sort)
described=$(sed -n 's/^## \([a-z-]*\):.*/\1/p' Makefile | sort)
defined=$(sed -n 's/^\([a-z][a-z-]*\):.*/\1/p' Makefile | sort -u)
missing=$(comm -23 <(printf '%s\n' "$targets" "$defined" | sort -u) <(printf '%s\n' "$described"))
if [ -n "$missing" ]; then
  echo "Makefile targets without a '## target:' line: $missing"
  exit 1
fi
echo "make help describes all $(wc -l <<<"$described") targets"

echo "--- README.md size"
size=$(wc -c <README.md)
if [ "$size" -gt "$README_MAX_BYTES" ]; then
  echo "README.md is $size bytes (> $README_MAX_BYTES): move detail into docs/ and link it"
  exit 1
fi
echo "README.md: $size bytes (<= $README_MAX_BYTES)"
