# Shared by bench/run and bench/classroom (sourced, not run). Expects $bench and $repo.

say() { printf 'bench: %s\n' "$*" >&2; }

# Installs what is missing: Debian packages ("$@" adds more), and ansible-core 2.19 from PyPI in
# the virtualenv $bench/.venv (2.19 is the newest series for Python 3.11). Sets $python, $venv.
install_tools() {
  local need_apt=() pair program package
  python=/usr/bin/python3
  [ -x /usr/bin/time ] || need_apt+=(time)
  command -v ssh >/dev/null || need_apt+=(openssh-client)
  command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
  [ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
  [ -x "$python" ] || need_apt+=(python3)
  "$python" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
  for pair in "$@"; do
    program=${pair%%:*}; package=${pair#*:}
    command -v "$program" >/dev/null || need_apt+=("$package")
  done
  if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  venv="$bench/.venv"
  local have
  have=$("$venv/bin/ansible-playbook" --version 2>/dev/null || true)
  if [[ "$have" != *"core 2.19."* ]]; then
    say "installing ansible-core 2.19 into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'ansible-core==2.19.*'
  fi
  # Ansible's own state stays in the work directory; no ansible.cfg is read.
  export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ANSIBLE_LOCAL_TEMP="$work/ansible-tmp"
  unset ANSIBLE_CONFIG
}

# Builds labctl unless $labctl names a binary already; leaves $labctl absolute.
build_labctl() {
  if [ -z "$labctl" ]; then
    say "building labctl (release)"
    # sudo resets PATH: find the invoking user's (or root's) Rust toolchain, as scripts/demo does.
    if ! command -v cargo >/dev/null 2>&1; then
      for home in "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)}" "$HOME"; do
        if [ -n "$home" ] && [ -f "$home/.cargo/env" ]; then . "$home/.cargo/env"; break; fi
      done
    fi
    (cd "$repo" && cargo build --release --locked --quiet)
    labctl="$repo/target/release/labctl"
  fi
  [ -x "$labctl" ] || { echo "bench: $labctl is not an executable" >&2; exit 2; }
  labctl="$(cd "$(dirname "$labctl")" && pwd)/$(basename "$labctl")"
}

# Where the binary came from, for the report.
labctl_origin() {
  if [ "$labctl" = "$repo/target/release/labctl" ]; then
    echo "built from this tree at $(cd "$repo" && git describe --always --dirty 2>/dev/null || echo '?')"
  else
    echo "$labctl"
  fi
}

machine_line() {
  echo "$("$labctl" --version) ($(labctl_origin)), $(ssh -V 2>&1 | cut -d, -f1)," \
       "ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')," \
       "$(nproc) CPUs, Linux $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Stops the ssh masters (ControlPersist) that Ansible left in the directory $1.
stop_ssh_masters() {
  local socket
  for socket in "$1"/*; do
    [ -S "$socket" ] && ssh -o ControlPath="$socket" -O exit placeholder >/dev/null 2>&1 || true
  done
}

# Runs "$@" timed: wall time (EPOCHREALTIME), peak RSS (GNU time -v) and the sshd logins it
# caused (the function named by $count_logins). Appends "round method wall rss logins exit" to
# $results; the output goes to $work/out.ROUND.METHOD.
timed() { # round method command...
  local round=$1 method=$2
  shift 2
  local out="$work/out.$round.$method" tfile="$work/time.$round.$method"
  local before after start end rc=0 rss
  before=$($count_logins)
  start=$EPOCHREALTIME
  /usr/bin/time -v -o "$tfile" "$@" >"$out" 2>&1 || rc=$?
  end=$EPOCHREALTIME
  after=$($count_logins)
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tfile" 2>/dev/null || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$method" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')" \
    "${rss:-0}" "$((after - before))" "$rc" >>"$results"
  return $rc
}

# "median min max" of column $2 (3 wall, 4 rss, 5 logins) over the successful runs of $1.
stat() {
  awk -F'\t' -v m="$1" -v c="$2" '$2 == m && $6 == 0 { print $c }' "$results" | sort -g \
    | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan nan nan"; exit }
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print med, v[1], v[NR] }'
}
failures() { awk -F'\t' -v m="$1" '$2 == m && $6 != 0' "$results" | wc -l; }

# The markdown table for the methods "$@" (labels from the array `label`), ratios to `floor`.
table() {
  local floor_med m med min rss_max cmin cmax conns
  read -r floor_med _ <<<"$(stat floor 3)"
  echo "| method | median wall | min | × floor | peak RSS | connections | failed |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for m in "$@"; do
    read -r med min _ <<<"$(stat "$m" 3)"
    read -r _ _ rss_max <<<"$(stat "$m" 4)"
    read -r _ cmin cmax <<<"$(stat "$m" 5)"
    conns=$cmin; [ "$cmin" = "$cmax" ] || conns="$cmin–$cmax"
    awk -v l="${label[$m]}" -v med="$med" -v min="$min" -v f="$floor_med" -v rss="$rss_max" \
        -v c="$conns" -v fail="$(failures "$m")" 'BEGIN {
      printf "| %s | %.3f s | %.3f s | %.2f | %.1f MiB | %s | %d |\n", l, med, min, med / f, rss / 1024, c, fail }'
  done
}

# One line per run, for the terminal.
raw_lines() {
  sort -t$'\t' -k2,2 -k1,1n "$results" | awk -F'\t' '{
    printf "  %-16s round %-3s %8.3f s %8d KiB %4d conn  exit %s\n", $2, $1, $3, $4, $5, $6 }' >&2
}
