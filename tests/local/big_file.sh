#!/usr/bin/env bash
# A 256 MiB file through the view (remote-io or lazy-file): read whole and checksummed in the
# job, read at scattered 4 KiB offsets (dd skip=), and the first 64 MiB copied out to a new
# output; the checksums and the output must match the export side byte for byte. In remote-io
# every read is a chain of ring calls split at the message limit; in lazy-file the file
# streams whole through the data area (kGetfile) into the guest's cache first.
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: big_file.sh auto|remote-io|lazy-file}
SIZE_MIB=${BIG_FILE_MIB:-256}  # the chirp tests use 32 (blocks past the end read as empty)

head -c $((SIZE_MIB << 20)) /dev/urandom >"$EXPORT/big"
echo 1 >>"$EXPORT/big"  # SIZE_MIB MiB + 2 bytes: the last chunk is short
(cd "$EXPORT" && sha256sum big) >"$T/big.sha.expected"
: >"$T/blocks.expected"
for blk in 0 1 4097 30011 65535 65536; do
  dd if="$EXPORT/big" bs=4096 skip=$blk count=1 2>/dev/null | sha256sum >>"$T/blocks.expected"
done

start=$(date +%s.%N)
run_job "$MODE" -- sh -c '
  set -e
  sha256sum big > big.sha
  for blk in 0 1 4097 30011 65535 65536; do
    dd if=big bs=4096 skip=$blk count=1 2>/dev/null | sha256sum
  done > blocks.sha
  dd if=big of=copy bs=1M count=64 2>/dev/null'
end=$(date +%s.%N)
expect_rc 0 "$MODE $SIZE_MIB MiB job"
expect_same "$T/big.sha.expected" "$EXPORT/big.sha" "sha256 of $SIZE_MIB MiB read through the view"
expect_same "$T/blocks.expected" "$EXPORT/blocks.sha" "4 KiB reads at scattered offsets"
head -c $((64 << 20)) "$EXPORT/big" >"$T/copy.expected"
expect_same "$T/copy.expected" "$EXPORT/copy" "64 MiB written through the view"
expect_clean "$MODE $SIZE_MIB MiB job"
echo "PASS: $MODE $SIZE_MIB MiB in $(echo "$end - $start" | bc) s"
