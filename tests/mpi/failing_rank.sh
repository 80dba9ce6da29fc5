#!/bin/sh
# The failure rule of docs/distributed.md under mpirun -np 2: (1) a rank that throws where the others wait in a
# collective (SYMCHECK_TEST_FAIL hook) ends every rank with exit 2 within seconds; (2) a rank that cannot load
# its data (another file given to rank 1 only) makes both exit 2, with the one line printed once.
# usage: failing_rank.sh SYMCHECK MPIRUN WORKDIR
set -u
symcheck=$1 mpirun=$2 work=$3
mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAILED: $*"; cat err.txt; exit 1; }

start=$(date +%s)
SYMCHECK_TEST_FAIL=1:5 timeout 60 "$mpirun" --oversubscribe -np 2 "$symcheck" --init glorot --iterations 300 -q 2>err.txt >out.txt
status=$?
elapsed=$(( $(date +%s) - start ))
[ "$status" = 2 ] || fail "a throwing rank: exit $status, expected 2 (124 = hung until timeout)"
[ "$elapsed" -lt 30 ] || fail "a throwing rank took ${elapsed}s to end every rank"
grep -q "^symcheck: error: test failure (SYMCHECK_TEST_FAIL=1:5) on rank 1 (rank 1 of 2)$" err.txt ||
  fail "no line naming the failing rank"

printf 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n' > good.csv
timeout 60 "$mpirun" --oversubscribe -np 1 "$symcheck" --data good.csv --label y -q : \
  -np 1 "$symcheck" --data missing.csv --label y -q 2>err.txt >out.txt
status=$?
[ "$status" = 2 ] || fail "an unreadable file on rank 1: exit $status, expected 2"
[ "$(grep -c '^symcheck: error:' err.txt)" = 1 ] || fail "expected exactly one error line"
grep -q "missing.csv" err.txt || fail "the line does not name rank 1's file"

timeout 60 "$mpirun" --oversubscribe -np 2 "$symcheck" --init glorot --batch-size 100 -q 2>err.txt >out.txt
status=$?
[ "$status" = 2 ] || fail "--batch-size in data mode: exit $status, expected 2"
grep -q "^symcheck: error: --batch-size: not available with 2 processes" err.txt || fail "--batch-size refusal"
timeout 60 "$mpirun" --oversubscribe -np 2 "$symcheck" --data - --label y -q <good.csv 2>err.txt >out.txt
status=$?
[ "$status" = 2 ] || fail "--data - under mpirun: exit $status, expected 2"
grep -q "^symcheck: error: --data -: standard input reaches only rank 0" err.txt || fail "--data - refusal"

# Divergence, found in data mode (one run) and in runs mode (two): the single process's line, once.
for inits in "--init glorot" "--init glorot --init constant:0.3"; do
  # shellcheck disable=SC2086
  "$symcheck" $inits --lr 30 --iterations 200 -q 2>single.txt >out.txt
  # shellcheck disable=SC2086
  timeout 60 "$mpirun" --oversubscribe -np 2 "$symcheck" $inits --lr 30 --iterations 200 -q 2>err.txt >out.txt
  status=$?
  [ "$status" = 2 ] || fail "divergence with $inits: exit $status, expected 2"
  grep -q "training diverged" single.txt || fail "the single process did not diverge with $inits"
  [ "$(grep '^symcheck: error:' err.txt)" = "$(cat single.txt)" ] || fail "divergence with $inits: not the single process's line"
done
echo "failing ranks: every rank ended with exit 2 (throwing rank after ${elapsed}s, agreed load failure, refusal)"
