#!/usr/bin/env bash
# Re-fetches GraphiQL's vendored files (server/assets/graphiql/) from the npm
# registry with `npm pack` and checks them against SHA256SUMS, so anyone can
# verify that what the binary serves is what npm publishes.
#
#   scripts/graphiql-assets.sh           fetch, copy in, check the hashes
#   scripts/graphiql-assets.sh --update  after changing a version below:
#                                        fetch, copy in, rewrite SHA256SUMS
#
# Needs npm and network access to the registry (the server itself never
# fetches anything: the files are compiled into it).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=server/assets/graphiql

# package@version  path in the tarball  name in $DEST
FILES=(
  "react@18.3.1 package/umd/react.production.min.js react.production.min.js"
  "react@18.3.1 package/LICENSE LICENSE.react"
  "react-dom@18.3.1 package/umd/react-dom.production.min.js react-dom.production.min.js"
  "react-dom@18.3.1 package/LICENSE LICENSE.react-dom"
  "graphiql@3.8.3 package/graphiql.min.js graphiql.min.js"
  "graphiql@3.8.3 package/graphiql.min.css graphiql.min.css"
  "graphiql@3.8.3 package/LICENSE LICENSE.graphiql"
)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for entry in "${FILES[@]}"; do
  read -r spec path name <<<"$entry"
  dir="$WORK/$spec"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "$spec")
    tar -xzf "$dir/$tarball" -C "$dir"
  fi
  cp "$dir/$path" "$DEST/$name"
  echo "$spec $path -> $DEST/$name"
done

cd "$DEST"
if [ "${1:-}" = "--update" ]; then
  sha256sum react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css >SHA256SUMS
  echo "SHA256SUMS rewritten; update server/assets/README.md to match"
else
  sha256sum -c SHA256SUMS
fi
