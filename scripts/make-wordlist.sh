#!/usr/bin/env bash
# Makes src/redact/english.txt: the lower-case words of Debian's American and British English
# word lists (SCOWL, packages wamerican and wbritish), one per line. The redactor reads it as
# "ordinary English words": in a slot where a name is expected ("my name is …", the answer to
# "may I have your name?") a word the recogniser wrote in lower case is a name unless it is one
# of these. Proper nouns are capitalised in those lists, so no name is in the file by way of
# being a name. The file is committed; this script is how it was made (safe to run again).
set -euo pipefail
SCRIPT_NAME=make-wordlist
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
[ -f /usr/share/dict/american-english ] && [ -f /usr/share/dict/british-english ] ||
  install_debian_packages wamerican wbritish
out=src/redact/english.txt
{
  echo "# Ordinary English words (lower case), from SCOWL via Debian's wamerican and wbritish"
  echo "# (scripts/make-wordlist.sh). SCOWL: Copyright 2000-2020 Kevin Atkinson and others;"
  echo "# permission to use, copy, modify, distribute and sell is granted (see"
  echo "# /usr/share/doc/wamerican/copyright)."
  LC_ALL=C cat /usr/share/dict/american-english /usr/share/dict/british-english |
    LC_ALL=C grep -E '^[a-z]+$' | LC_ALL=C sort -u
} >"$out"
say "wrote $out ($(grep -vc '^#' "$out") words)"
