#!/usr/bin/env bash
# Nightly rebuild: fetch the configured sources, ingest the files in a drop folder, build the index
# incrementally, verify it, prune old snapshots. One JSON line per stage on stdout (ts, stage, status,
# seconds, exit_code, counts), so the log can be shipped as is; progress bars only from a terminal.
#
# Usage: scripts/nightly.sh [--home DIR] [--drop DIR] [--keep N] [--full] [--no-fetch] [--map field=column]...
#   --home   data home (default: $COMPARE_HOME; one of the two is required)
#   --no-fetch  skip `compare fetch` (it runs when the home's compare.toml, or $COMPARE_CONFIG, has
#            [[sources]]; a source that fails is named in the fetch line, the other stages still run)
#   --drop   folder where crawlers leave files (default: $COMPARE_DROP, else <home>/drop). Files whose
#            name starts with "." are still being written and are skipped; ingested files move to
#            <drop>/processed/<stamp>/, files with no usable record to <drop>/failed/<stamp>/.
#   --keep   snapshots to keep (default: [index] keep_snapshots of the home's compare.toml, 2)
#   --full   rebuild from scratch (e.g. weekly, or after changing dedup settings)
#   --map    passed to `compare ingest`
# Environment: COMPARE (the compare executable; default the checkout's .venv/bin/compare, else compare
# on PATH), and everything compare itself reads (COMPARE_HOME, COMPARE_MODEL, COMPARE_CONFIG...).
#
# Exit codes (for monitoring):
#   0  done (also when nothing was new)
#   3  build failed (corrupt corpus, disk full): the previous snapshot is still serving
#   4  verify failed: the current snapshot is damaged; run `compare index build --full`
#   5  prune failed
#   10 ingest failed (the store could not be written); nothing was built
#   64 bad usage (unknown option, --keep not a positive integer, --map not field=column of a known
#      field, --drop not a folder)
#   66 the drop folder cannot be read: nothing was ingested or built
#   73 the data home cannot be written (read-only, full, not a folder): nothing was done
#   75 another nightly run or index build is running: this run did nothing; try later
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compare="${COMPARE:-}"
if [[ -z "$compare" ]]; then
    if [[ -x "$here/../.venv/bin/compare" ]]; then compare="$here/../.venv/bin/compare"; else compare="compare"; fi
fi

home="${COMPARE_HOME:-}"
drop="${COMPARE_DROP:-}"
keep=""
full=()
fetch=1
maps=()
usage() { echo "nightly.sh: $1 (see --help)" >&2; exit 64; }
# The fields `compare ingest --map` accepts (compare.core.schema.MAPPABLE_FIELDS; tests/test_nightly.py
# checks the two lists agree): a bad --map is bad usage here, not an ingest failure every night.
mappable=" outlet text title published url byline language "
while [[ $# -gt 0 ]]; do
    case "$1" in
        --home|--drop|--keep|--map) [[ $# -ge 2 ]] || usage "$1 needs a value" ;;&
        --home) home="$2"; shift 2 ;;
        --drop) drop="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2
                [[ "$keep" =~ ^[0-9]+$ && "$keep" -ge 1 && ${#keep} -le 6 ]] || usage "--keep takes a whole number of snapshots, at least 1 (got '$keep')" ;;
        --full) full=(--full); shift ;;
        --no-fetch) fetch=0; shift ;;
        --map) [[ "$2" =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*[^[:space:]] && "$mappable" == *" ${BASH_REMATCH[1]} "* ]] \
                   || usage "--map takes field=column with a field among:$mappable(got '$2')"
               maps+=(--map "$2"); shift 2 ;;
        -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage "unknown option $1" ;;
    esac
done
if [[ -z "$home" ]]; then
    usage "give the data home with --home DIR or COMPARE_HOME"
fi
home_args=(--home "$home")
[[ -z "$drop" ]] && drop="$home/drop"
keep_args=()
[[ -n "$keep" ]] && keep_args=(--keep "$keep")

interactive=0
[[ -t 2 ]] && interactive=1

now() { date +%s.%N; }
iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
json_string() {  # a JSON string literal: backslashes, quotes and control characters escaped
    printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')"
}
log() {  # log STAGE STATUS SECONDS EXIT_CODE [EXTRA_JSON_FIELDS]
    local extra="${5:-}"
    printf '{"ts": "%s", "stage": "%s", "status": "%s", "seconds": %s, "exit_code": %s, "home": %s%s}\n' \
        "$(iso)" "$1" "$2" "$3" "$4" "$(json_string "$home")" "${extra:+, $extra}"
}
run() {  # run CMD...: stdout to $out, stderr to the terminal when interactive (progress bars), else to $errors
    if [[ $interactive == 1 ]]; then
        out="$("$@")"; code=$?; errors=""
    else
        local file; file="$(mktemp)"
        out="$("$@" 2>"$file")"; code=$?; errors="$(tail -n 5 "$file")"; rm -f "$file"
    fi
}
last_error() { printf '%s' "$errors" | grep -v '^$' | tail -n 1; }

started_all="$(now)"
if [[ -e "$drop" && ! -d "$drop" ]]; then
    log nightly failed 0 64 "\"error\": $(json_string "--drop $drop is not a folder")"
    exit 64
fi
# The home must take a lock file before anything else: a read-only or full home is its own error,
# not "another run holds the lock" (which monitoring counts as success).
if ! mkdir -p "$home" 2>/dev/null || ! { : >>"$home/.nightly.lock"; } 2>/dev/null; then
    log nightly failed 0 73 "\"error\": $(json_string "cannot write the data home $home (read-only, full or not a folder)")"
    exit 73
fi
if ! mkdir -p "$drop" 2>/dev/null || [[ ! -r "$drop" || ! -x "$drop" ]] || ! find "$drop" -maxdepth 0 >/dev/null 2>&1; then
    log nightly failed 0 66 "\"error\": $(json_string "cannot read the drop folder $drop")"
    exit 66
fi
exec 9>>"$home/.nightly.lock"
if ! flock -n 9; then
    log nightly skipped 0 75 "\"reason\": \"another nightly run holds $home/.nightly.lock\""
    exit 75
fi

finish() {  # finish EXIT_CODE STATUS
    log nightly "$2" "$(elapsed "$started_all")" "$1"
    exit "$1"
}

# 0. fetch: the sources of compare.toml, when it has any ------------------------------------------
# `compare fetch` ingests what it fetched itself; exit 1 = some source failed (named with its reason
# in "result".failed_sources), the others were fetched: status "partial", and the night goes on.
config_file="${COMPARE_CONFIG:-$home/compare.toml}"
if [[ $fetch == 1 ]] && grep -qs '^[[:space:]]*\[\[[[:space:]]*sources[[:space:]]*\]\]' "$config_file"; then
    started="$(now)"
    run "$compare" fetch --json "${home_args[@]}"
    result="$(printf '%s' "$out" | tail -n 1)"
    if [[ ($code -eq 0 || $code -eq 1) && "$result" == "{"* ]]; then
        log fetch "$([[ $code -eq 0 ]] && echo ok || echo partial)" "$(elapsed "$started")" "$code" "\"result\": $result"
    else
        log fetch failed "$(elapsed "$started")" "$code" "\"error\": $(json_string "$(last_error)")"
    fi
fi

# 1. ingest ---------------------------------------------------------------------------------------
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mapfile -d '' files < <(find "$drop" -mindepth 1 -maxdepth 1 -type f ! -name '.*' -print0 | sort -z)
started="$(now)"
if [[ ${#files[@]} -eq 0 ]]; then
    log ingest ok "$(elapsed "$started")" 0 '"files": 0, "accepted": 0, "duplicates": 0, "rejected": 0'
else
    run "$compare" ingest "${files[@]}" "${home_args[@]}" "${maps[@]}"
    summary="$(printf '%s' "$out" | grep -Eo 'accepted [0-9]+, duplicate [0-9]+, rejected [0-9]+' | tail -n 1)"
    read -r accepted duplicates rejected < <(printf '%s' "$summary" | grep -Eo '[0-9]+' | tr '\n' ' '; echo)
    rejects_file="$(printf '%s' "$out" | sed -n 's/.*rejects written to \(.*\))$/\1/p' | tail -n 1)"
    counts="\"files\": ${#files[@]}, \"accepted\": ${accepted:-0}, \"duplicates\": ${duplicates:-0}, \"rejected\": ${rejected:-0}, \"rejects_file\": $(json_string "$rejects_file")"
    if [[ -z "$summary" ]]; then
        log ingest failed "$(elapsed "$started")" "$code" "$counts, \"error\": $(json_string "$(last_error)")"
        finish 10 failed
    fi
    # Exit 1 = every record rejected: the files are kept aside, the build still runs on what is stored.
    target="$drop/processed/$stamp"
    [[ $code -ne 0 ]] && target="$drop/failed/$stamp"
    mkdir -p "$target" && mv -- "${files[@]}" "$target/"
    log ingest "$([[ $code -eq 0 ]] && echo ok || echo rejected)" "$(elapsed "$started")" "$code" "$counts, \"moved_to\": $(json_string "$target")"
fi

# 2. build ----------------------------------------------------------------------------------------
started="$(now)"
run "$compare" index build --json "${home_args[@]}" "${keep_args[@]}" "${full[@]}"
if [[ $code -eq 0 ]]; then
    log build ok "$(elapsed "$started")" 0 "\"result\": ${out:-null}"
elif [[ $code -eq 75 ]]; then
    log build skipped "$(elapsed "$started")" 75 "\"error\": $(json_string "$(last_error)")"
    finish 75 skipped
else
    log build failed "$(elapsed "$started")" "$code" "\"error\": $(json_string "$(last_error)")"
    finish 3 failed
fi

# 3. verify ---------------------------------------------------------------------------------------
started="$(now)"
run "$compare" index verify "${home_args[@]}"
if [[ $code -ne 0 ]]; then
    log verify failed "$(elapsed "$started")" "$code" "\"error\": $(json_string "$(last_error)")"
    finish 4 failed
fi
log verify ok "$(elapsed "$started")" 0 "\"message\": $(json_string "$out")"

# 4. prune ----------------------------------------------------------------------------------------
started="$(now)"
run "$compare" index prune "${home_args[@]}" "${keep_args[@]}"
if [[ $code -ne 0 ]]; then
    log prune failed "$(elapsed "$started")" "$code" "\"error\": $(json_string "$(last_error)")"
    finish 5 failed
fi
removed="$(printf '%s' "$out" | grep -Eo 'removed [0-9]+' | grep -Eo '[0-9]+')"
log prune ok "$(elapsed "$started")" 0 "\"removed\": ${removed:-0}"

finish 0 ok
