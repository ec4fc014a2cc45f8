#!/usr/bin/env bash
# Build certbot_docs/corpus and material_docs/corpus from git clones (or bare mirrors) of the two projects.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
certbot_git="$1" material_git="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

git --git-dir="$certbot_git" archive f769e35e77f1fa21a75cd5418641502dad8a37c5 certbot/docs | tar -x -C "$tmp"
rm -rf "$here/certbot_docs/corpus" && mkdir -p "$here/certbot_docs/corpus/man"
cp "$tmp"/certbot/docs/*.rst "$tmp"/certbot/docs/*.txt "$here/certbot_docs/corpus/"
cp "$tmp"/certbot/docs/man/*.rst "$here/certbot_docs/corpus/man/"

git --git-dir="$material_git" archive 5b36f2ac499a45905e246bc66bbee2858ef6556f docs | tar -x -C "$tmp"
rm -rf "$here/material_docs/corpus" && mkdir -p "$here/material_docs/corpus"
(cd "$tmp/docs" && find . -name '*.md' -not -path './blog/*' -not -path './changelog/*' \
    -not -path './insiders/changelog/*' -print0 | xargs -0 cp --parents -t "$here/material_docs/corpus/")
echo "certbot_docs: $(find "$here/certbot_docs/corpus" -type f | wc -l) files"
echo "material_docs: $(find "$here/material_docs/corpus" -type f | wc -l) files"
