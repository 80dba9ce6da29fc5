#!/usr/bin/env bash
# Checks symcheck's installed bash completion by calling its function as bash would (COMP_WORDS, COMP_CWORD).
# Usage: completion_test.sh COMPLETION_FILE BIN_DIR WORK_DIR   (BIN_DIR holds the symcheck to complete for)
set -euo pipefail
completion=$1 bin_dir=$2 work=$3
rm -rf "$work" && mkdir -p "$work/files/reports" "$work/stub"
touch "$work/files/report.json"
export PATH="$bin_dir:$PATH"
# shellcheck source=/dev/null
source "$completion"
failures=0

# The candidates for the words given (the last one being completed), sorted, on one line.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _symcheck
    printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}

expect() {  # expect "WORDS" "exact candidates"
    local got
    read -ra words <<< "$1"
    [[ $1 == *" " ]] && words+=("")
    got=$(complete_words "${words[@]}")
    if [[ $got != "$2" ]]; then echo "completing '$1': expected '$2', got '$got'" >&2; failures=$((failures + 1)); fi
}

expect_some() {  # expect_some "WORDS" "candidates that must be among those offered"
    local got c
    read -ra words <<< "$1"
    [[ $1 == *" " ]] && words+=("")
    got=" $(complete_words "${words[@]}") "
    for c in $2; do
        if [[ $got != *" $c "* ]]; then echo "completing '$1': '$c' missing from '$got'" >&2; failures=$((failures + 1)); fi
    done
    if [[ $got == *" -"* ]]; then echo "completing '$1': option names offered as values: '$got'" >&2; failures=$((failures + 1)); fi
}

[[ $(complete -p symcheck) == "complete -F _symcheck symcheck" ]] || { echo "completion not registered for symcheck" >&2; exit 1; }

# Every long option --help lists, and only those, is offered after "--".
listed=$(symcheck --help | grep -oE '^  (-[A-Za-z] \[ )?--[A-Za-z0-9-]+' | grep -oE -- '--[A-Za-z0-9-]+' | sort | xargs)
(($(wc -w <<< "$listed") >= 20)) || { echo "read only '$listed' from symcheck --help" >&2; exit 1; }
expect "symcheck --" "$listed"

expect "symcheck --js" "--json"
expect "symcheck --quiet --it" "--iterations"
expect_some "symcheck --optimizer " "gd momentum adam"
expect_some "symcheck --activation " "tanh sigmoid relu"
expect "symcheck --missing " "drop error mean"
expect_some "symcheck --init " "zeros glorot he normal: constant:"
expect "symcheck --init norm" "normal:"
expect "symcheck --lr " ""           # a number: nothing to offer, least of all file names
expect "symcheck stray" ""           # symcheck takes no positional arguments

cd "$work/files"
expect "symcheck --json rep" "report.json reports"
expect "symcheck --json = rep" "report.json reports"   # --json=rep, split at '=' by bash
expect "symcheck --svg rep" "report.json reports"
expect "symcheck --save rep" "reports"                 # a directory
expect "symcheck --load rep" "reports"

# Not stale: a symcheck with other options completes them, without any edit to the completion.
cat > "$work/stub/symcheck" <<'EOF'
#!/bin/sh
cat <<'HELP'
Output:
  --frobnicate FILE         write the frobnication to FILE
  --color arg (=auto)       when to colour the report: always, never or auto
  --an-option-with-a-very-long-name arg
                            a description on the next line, kind: alpha | beta
  --compress arg            write the smaller model
  --cache-dir DIR           keep intermediate results in DIR
  -h [ --help ]             show this help
HELP
EOF
chmod +x "$work/stub/symcheck"
PATH="$work/stub:$PATH"
expect "symcheck --" "--an-option-with-a-very-long-name --cache-dir --color --compress --frobnicate --help"
expect "symcheck --cache-dir rep" "reports"
expect "symcheck --frobnicate rep" "report.json reports"
expect "symcheck --compress rep" "report.json reports"
expect "symcheck --color " "always auto never"
expect "symcheck --an-option-with-a-very-long-name " "alpha beta"

if ((failures > 0)); then echo "$failures completion check(s) failed" >&2; exit 1; fi
echo "completion: all checks passed"
