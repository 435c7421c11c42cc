#!/usr/bin/env bash
# Runs the demo on a throw-away simulator and puts a trimmed transcript of
# that real run into docs/demo.md (between the demo-transcript markers), so
# the docs never show output nobody saw. `make demo-transcript`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state=$(mktemp -d)/sim
full=$(mktemp)
trap 'bin/meshsim --state "$state" down >/dev/null 2>&1 || true; rm -f "$full"' EXIT

DEMO_STATE=$state NO_COLOR=1 bash hack/demo.sh >"$full" 2>&1

# Keep each step's title and command, the first lines of its output, and the
# whole summary; elide the rest.
trimmed=$(awk '
  /^DEMO OK/           { print; exit }
  /^== Summary/        { summary = 1; print ""; print; next }
  summary              { print; next }
  /^== [0-9]+\./       { print ""; print; shown = 0; elided = 0; next }
  /^\$ /               { print; next }
  /^$/                 { next }
  shown < 6            { print; shown++; next }
  !elided              { print "  ..."; elided = 1 }
' "$full" | sed "s|$state|~/.local/state/meshctl-demo|g")

block=$(printf '```text\n%s\n```\n' "$trimmed")
python3 - "$block" <<'PY'
import re, sys
block = sys.argv[1]
path = "docs/demo.md"
s = open(path).read()
start, end = "<!-- demo-transcript:start -->", "<!-- demo-transcript:end -->"
if start not in s:
    sys.exit("docs/demo.md has no demo-transcript markers")
s = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda m: start + "\n" + block + "\n" + end, s, flags=re.S)
open(path, "w").write(s)
PY
echo "docs/demo.md: transcript updated from a real run ($(grep -c '' "$full") lines, trimmed)"
