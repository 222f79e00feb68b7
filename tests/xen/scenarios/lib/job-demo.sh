# shellcheck shell=sh
# The demo's data set and job (tests/xen/scenarios/demo.sh, scripts/demo). Plain POSIX sh and
# awk, so the same code runs in the harness dom0 (busybox) and on a real Xen dom0 (dash or
# bash, mawk or gawk, coreutils).
#
# demo_make_library EXPORT makes:
#   library/catalog.txt                  the books to analyse: 3 of the 8, one name a line
#   library/books/NN-TITLE.txt           8 generated books, 80-160 KiB each
#   library/archive/scans-N.bin          3 x 8 MiB of random bytes the job never opens
#   results/                             where the job writes its report
# The job (DEMO_JOB) analyses the books the catalog lists and writes results/report.txt. In
# lazy-file mode only the catalog and those 3 books are fetched into the guest.
# shellcheck disable=SC2034 # DEMO_* are read by the scripts that source this

DEMO_BOOKS="01-grant-tables 02-event-channels 03-the-ring 04-lazy-files 05-remote-io \
06-eager-staging 07-reapers 08-no-network"
DEMO_CATALOG="02-event-channels 04-lazy-files 08-no-network"
DEMO_ARCHIVE_MIB=8

demo_make_library() {
  ex=$1
  mkdir -p "$ex/library/books" "$ex/library/archive" "$ex/results" || return 1
  # One awk process writes all the books. Each book has its own theme words mixed into a
  # common vocabulary, so the books' top words differ.
  awk -v dir="$ex/library/books" -v books="$DEMO_BOOKS" 'BEGIN {
    srand(42)
    nc = split("the of and a to in is it that was for on as with by at from this be are " \
      "or an but not which have one all were when there can", common, " ")
    nb = split(books, b, " ")
    for (k = 1; k <= nb; k++) {
      nt = split(b[k], theme, "-")
      f = dir "/" b[k] ".txt"
      lines = 1400 + int(rand() * 1400)
      for (line = 0; line < lines; line++) {
        s = ""
        for (j = 0; j < 10; j++) {
          if (rand() < 0.18) { word = theme[2 + int(rand() * (nt - 1))] }
          else { r = rand(); word = common[int(nc * r * r) + 1] }
          s = s (j ? " " : "") word
        }
        print s > f
      }
      close(f)
    }
  }' || return 1
  for b in $DEMO_CATALOG; do echo "$b"; done >"$ex/library/catalog.txt"
  i=1
  while [ "$i" -le 3 ]; do
    dd if=/dev/urandom of="$ex/library/archive/scans-$i.bin" bs=1048576 count="$DEMO_ARCHIVE_MIB" \
      2>/dev/null || return 1
    i=$((i + 1))
  done
}

# The job, run in the guest as uid 65534 with its working directory at the export's view. It
# prints what it sees of its machine, then its report (also written to results/report.txt).
# The report holds nothing machine-specific, so the same script run directly on the export
# must produce the same bytes.
# shellcheck disable=SC2016 # expanded by the job's shell
DEMO_REPORT='
set -eu
books=$(awk "NF && \$1 !~ /^#/ { print \$1 }" library/catalog.txt)
echo "# ringbox demo report: the books listed in library/catalog.txt"
n=0
for b in $books; do
  f=library/books/$b.txt
  sum=$(sha256sum <"$f" | cut -c1-64)
  words=$(awk "{ n += NF } END { print n + 0 }" "$f")
  echo "book $b: $words words, $(stat -c %s "$f") bytes, sha256 $sum"
  n=$((n + 1))
done
echo "books analysed: $n"
echo "# the 10 most frequent words across them (count, word)"
for b in $books; do cat "library/books/$b.txt"; done | awk "
  { for (i = 1; i <= NF; i++) c[\$i]++ }
  END {
    for (k = 1; k <= 10; k++) {
      best = \"\"; bc = -1
      for (w in c) if (!(w in used) && (c[w] > bc || (c[w] == bc && w < best))) { best = w; bc = c[w] }
      if (bc < 0) break
      used[best] = 1
      printf \"%2d. %7d %s\n\", k, bc, best
    }
  }"
'
# shellcheck disable=SC2016 # expanded by the job's shell
DEMO_JOB='
echo "job: uid $(id -u), kernel $(uname -r), network interfaces: $(ls /sys/class/net | tr "\n" " ")"
mkdir -p results
(
'"$DEMO_REPORT"'
) >results/report.txt || exit 3
cat results/report.txt
'
