#!/usr/bin/env bash
# The main job on the embedded default: a town, the engine, and the built-in `release` formula
# run as a durable workflow on a sample repository. Run `npm run setup` once before.
# GT_DEMO_DIR picks the folder (default: ~/gt-demo); VERSION the version to release.
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
gt() { node "$project/bin/gt.js" "$@"; }
bd() { node "$project/bin/bd.js" "$@"; }
town="${GT_DEMO_DIR:-$HOME/gt-demo}"
version="${VERSION:-1.2.0}"

if [ ! -f "$town/mayor/town.json" ]; then
  gt install "$town" --git
fi
repo="$town/demo-repo"
if [ ! -d "$repo/.git" ]; then
  cp -R "$project/examples/release-repo" "$repo"
  git -C "$repo" init -q
  git -C "$repo" config user.name "Gas Town demo"
  git -C "$repo" config user.email "demo@gastown.invalid"
  git -C "$repo" add -A
  git -C "$repo" commit -qm "sample project"
fi
cd "$town"
gt up
echo
bd cook release --var "version=$version" --cwd "$repo"
echo
echo "Released $version of $repo: $(git -C "$repo" describe --tags)"
echo "The run stays in the engine: open the Web UI above, or run: cd $town && bd mol list --all"
