#!/usr/bin/env bash
# The preprocessor step of ccache for the three MPICH builds of
# scripts/build-mpich.sh (ccache's prefix_command_cpp): runs the preprocessor
# given as arguments and prints its output without the text of the PMI
# headers, so that a source file compiles once and its object serves all
# three builds.
#
# Why: MPICH's mpiimpl.h, included by almost every source file, includes
# exactly one of pmi.h, pmi2.h or pmix.h depending on the PMI layer chosen at
# configure time. The object code of a file that does not use the PMI layer
# does not depend on that header, but its preprocessed text does, so plain
# ccache would miss on nearly every file of the second and third build.
#
# What is removed from the text ccache hashes (and only from that: the
# object is still compiled from the real source with the real flags):
#   - every region of a header under one of the folders in
#     HPCBENCH_PMI_HEADER_DIRS (colon-separated), with all it includes;
#   - every region of a header listed in HPCBENCH_PMI_SYSTEM_HEADERS
#     (colon-separated paths): the system headers the PMI headers include.
#     pmix.h includes some standard headers (sys/time.h, ctype.h ...) before
#     MPICH's own headers would, so in the PMIx build they appear at another
#     place in the text. Removing them from every build keeps the texts equal.
#   - line numbers: every blank line and every line marker that only
#     resynchronises the line number is dropped, and the markers that enter
#     or leave a file keep its name and flags without the number. Where a
#     region was removed the includer resumes at another line depending on
#     the header, and pmix.h moves standard headers, so these differ between
#     the builds although every source line keeps its own number (all three
#     builds compile the same source tree in the same folder).
# Whatever a file itself does with the PMI layer (#ifdef USE_PMI2_API, calls,
# types, macro expansions) stays in the text, so such files miss and are
# compiled for each build. The contents of the removed headers are covered by
# ccache's extra_files_to_hash, which build-mpich.sh points at a file naming
# the MPICH source and the versions of the header packages.
set -o pipefail

# ccache asks for the output in a file (-o FILE): the preprocessor writes to
# the pipe instead and the filtered text goes to FILE.
args=() output=/dev/stdout
while [ $# -gt 0 ]; do
  case $1 in
    -o) output=$2; shift 2 ;;
    -o?*) output=${1#-o}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

"${args[@]}" | awk -v pmi_dirs="${HPCBENCH_PMI_HEADER_DIRS:-}" -v system_headers="${HPCBENCH_PMI_SYSTEM_HEADERS:-}" '
BEGIN {
  dir_count = split(pmi_dirs, pmi_dir, ":")
  n = split(system_headers, list, ":")
  for (i = 1; i <= n; i++) if (list[i] != "") removed_header[list[i]] = 1
  depth = 0          # > 0 while inside a removed region (nesting level)
}
function is_removed(path,   i) {
  if (path in removed_header) return 1
  for (i = 1; i <= dir_count; i++)
    if (pmi_dir[i] != "" && index(path, pmi_dir[i] "/") == 1) return 1
  return 0
}
# A line marker: # LINE "FILE" FLAGS (1: entering FILE, 2: returning to it,
# 3 and 4: a system header).
/^# [0-9]+ "/ {
  path = $0
  sub(/^# [0-9]+ "/, "", path)
  flags = path
  sub(/".*$/, "", path)
  sub(/^[^"]*" */, "", flags)
  entering = (flags ~ /(^| )1( |$)/)
  returning = (flags ~ /(^| )2( |$)/)
  if (depth > 0) {
    if (entering) depth++
    else if (returning) depth--
    next
  }
  if (entering && is_removed(path)) { depth = 1; next }
  if (!entering && !returning) next
  print "# \"" path "\" " flags
  next
}
depth > 0 { next }
/^[ \t]*$/ { next }
{ print }
' >"$output"
