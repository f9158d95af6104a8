#!/usr/bin/env bash
# bench/corpus.sh - fetch a real-data corpus of Debian kernels for kabi benchmarks and tests.
#
# Everything goes to a cache folder OUTSIDE the repository:
#   ${KABI_CORPUS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kabi-corpus}
#
# Layout produced (full mode):
#   amd64-6.1/      lib/modules/<K>/kernel/...*.ko      + Module.symvers   (Debian 6.1.0-NN-amd64, signed image)
#   amd64-6.12/     lib/modules/<K>/kernel/...*.ko.xz   + Module.symvers   (Debian 6.12.NNN+deb12-amd64)
#   s390x-6.1/      lib/modules/<K>/kernel/...*.ko      + Module.symvers   (64-bit big-endian)
#   i386-6.1/       lib/modules/<K>/kernel/...*.ko      + Module.symvers   (686-pae, 32-bit little-endian)
#   amd64-6.1-gz/   amd64-6.1 modules recompressed as .ko.gz (gzip -n), same relative paths
#   amd64-6.1-zst/  amd64-6.1 modules recompressed as .ko.zst (zstd), same relative paths
#   symvers/<K>/Module.symvers  for every amd64 6.1.0-NN / 6.12.NNN kernel (amd64, cloud-amd64, rt-amd64
#                               flavours) whose linux-headers-<K> package the archive offers
#   <case>/modversions.tsv      cached `modprobe --dump-modversions` of every module: path \t crc \t symbol
#   manifest.json               { cases: [...], symvers: [...], pairs: [...] } with absolute paths
#
# Module.symvers lives in the flavour package linux-headers-<K> (/usr/src/linux-headers-<K>/Module.symvers),
# not in linux-headers-<ABI>-common.
#
# Usage: bench/corpus.sh [--small]
#   --small (or KABI_CORPUS_SMALL=1): only the amd64-6.1 case, its .ko.zst copy and the amd64-flavour
#   symvers (what CI needs; a few minutes at most).
# Kernel choices can be overridden with KABI_K_AMD64_61, KABI_K_AMD64_612, KABI_K_S390X_61, KABI_K_I386_61.
# Idempotent: each step leaves a marker and is skipped when already done.
set -euo pipefail

CORPUS="${KABI_CORPUS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kabi-corpus}"
SMALL="${KABI_CORPUS_SMALL:-0}"
for arg in "$@"; do
  case "$arg" in
    --small) SMALL=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "corpus.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

K_AMD64_61="${KABI_K_AMD64_61:-6.1.0-53-amd64}"
K_AMD64_612="${KABI_K_AMD64_612:-6.12.113+deb12-amd64}"
K_S390X_61="${KABI_K_S390X_61:-6.1.0-50-s390x}"
K_I386_61="${KABI_K_I386_61:-6.1.0-50-686-pae}"

JOBS="${KABI_CORPUS_JOBS:-2}"
APT_OPTS=(-q -o APT::Sandbox::User=root)

log() { printf '[corpus %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "corpus.sh: missing tool: $1" >&2; exit 1; }; }
for t in apt-get apt-cache dpkg dpkg-deb modprobe gzip zstd node; do need "$t"; done

mkdir -p "$CORPUS/debs" "$CORPUS/symvers"
CORPUS="$(cd "$CORPUS" && pwd)"

# --- foreign architectures -------------------------------------------------------------------------
ensure_arch() {
  local want=$1
  [[ "$(dpkg --print-architecture)" == "$want" ]] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx "$want"; then
    log "adding dpkg architecture $want"
    dpkg --add-architecture "$want"
    NEED_UPDATE=1
  fi
}
NEED_UPDATE=0
if [[ "$SMALL" != 1 ]]; then
  ensure_arch s390x
  ensure_arch i386
fi
if [[ "$NEED_UPDATE" == 1 ]]; then
  log "apt-get update"
  # A partial failure (e.g. a mirror mid-sync for one index) must not stop us: the packages we need may
  # still be listed; fetch_deb fails loudly if not.
  apt-get update -q || log "WARNING: apt-get update reported errors; continuing"
fi

# --- download + extract ----------------------------------------------------------------------------
# fetch_deb PKG ARCH -> prints the path of the downloaded .deb (downloads it unless already present)
fetch_deb() {
  local pkg=$1 arch=$2 f
  f=$(compgen -G "$CORPUS/debs/${pkg}_*_${arch}.deb" | head -n1 || true)
  if [[ -z "$f" ]]; then
    log "apt-get download $pkg:$arch"
    (cd "$CORPUS/debs" && apt-get download "${APT_OPTS[@]}" "$pkg:$arch" >&2)
    f=$(compgen -G "$CORPUS/debs/${pkg}_*_${arch}.deb" | head -n1 || true)
    [[ -n "$f" ]] || { echo "corpus.sh: download of $pkg:$arch produced no .deb" >&2; exit 1; }
  fi
  printf '%s\n' "$f"
}

deb_version() { dpkg-deb -f "$1" Version; }

# fetch_symvers K ARCH DEST: extract Module.symvers of linux-headers-K into DEST (a file)
fetch_symvers() {
  local k=$1 arch=$2 dest=$3 deb tmp
  [[ -s "$dest" ]] && return 0
  deb=$(fetch_deb "linux-headers-$k" "$arch")
  tmp="$dest.tmp.$$"
  mkdir -p "$(dirname "$dest")"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "./usr/src/linux-headers-$k/Module.symvers" > "$tmp"
  [[ -s "$tmp" ]] || { echo "corpus.sh: no Module.symvers in $deb" >&2; exit 1; }
  printf 'linux-headers-%s\t%s\t%s\n' "$k" "$(deb_version "$deb")" "$arch" > "$(dirname "$dest")/SOURCE"
  mv "$tmp" "$dest"
  rm -f "$deb"
}

# fetch_image CASE K ARCH: extract lib/modules/K of linux-image-K into CASE/, plus CASE/Module.symvers
fetch_image() {
  local case_id=$1 k=$2 arch=$3 dir="$CORPUS/$1" deb tmp src
  if [[ ! -e "$dir/.image-done" ]]; then
    deb=$(fetch_deb "linux-image-$k" "$arch")
    log "extracting $(basename "$deb") into $case_id/"
    tmp="$CORPUS/.extract.$$"
    rm -rf "$tmp" "$dir/lib"
    mkdir -p "$tmp" "$dir/lib/modules"
    dpkg -x "$deb" "$tmp"
    src=""
    for c in "$tmp/lib/modules/$k" "$tmp/usr/lib/modules/$k"; do [[ -d "$c" ]] && src=$c; done
    [[ -n "$src" ]] || { echo "corpus.sh: no lib/modules/$k in $deb" >&2; exit 1; }
    mv "$src" "$dir/lib/modules/$k"
    rm -rf "$tmp"
    printf 'linux-image-%s\t%s\t%s\n' "$k" "$(deb_version "$deb")" "$arch" > "$dir/SOURCE"
    printf '%s\n' "$k" > "$dir/RELEASE"
    touch "$dir/.image-done"
    rm -f "$deb"
  fi
  fetch_symvers "$k" "$arch" "$CORPUS/symvers/$k/Module.symvers"
  cp -f "$CORPUS/symvers/$k/Module.symvers" "$dir/Module.symvers"
  cp -f "$CORPUS/symvers/$k/SOURCE" "$dir/SOURCE.headers"
}

# recompress SRC_CASE DST_CASE EXT: copy every .ko of SRC as .ko.EXT (gz: gzip -n -9; zst: zstd -q)
recompress() {
  local src="$CORPUS/$1" dst="$CORPUS/$2" ext=$3 k
  [[ -e "$dst/.image-done" ]] && return 0
  k=$(cat "$src/RELEASE")
  log "recompressing $1 -> $2 (.ko.$ext)"
  rm -rf "$dst"
  mkdir -p "$dst/lib/modules/$k"
  (cd "$src/lib/modules/$k" && find . -maxdepth 1 -type f -name 'modules.*' -exec cp {} "$dst/lib/modules/$k/" \;)
  (cd "$src/lib/modules/$k" && find kernel -type f -name '*.ko' -printf '%h\n' | sort -u) \
    | (cd "$dst/lib/modules/$k" && xargs -r mkdir -p)
  local cmd
  case $ext in
    gz) cmd='for f; do gzip -n -9 -c "$S/$f" > "$D/$f.gz"; done' ;;
    zst) cmd='for f; do zstd -q -19 -c "$S/$f" > "$D/$f.zst"; done' ;;
    *) echo "bad ext $ext" >&2; exit 1 ;;
  esac
  (cd "$src/lib/modules/$k" && find kernel -type f -name '*.ko' -print0) \
    | S="$src/lib/modules/$k" D="$dst/lib/modules/$k" xargs -0 -r -n 64 -P "$JOBS" bash -c "$cmd" _
  cp -f "$src/RELEASE" "$src/Module.symvers" "$dst/"
  { cat "$src/SOURCE"; printf 'recompressed\t%s\n' "$ext"; } > "$dst/SOURCE"
  touch "$dst/.image-done"
}

# dump_modversions CASE: CASE/modversions.tsv = path \t crc \t symbol for every module (kmod, cached).
# Each xargs batch writes its own part file (parallel writers to one file interleave partial lines);
# the parts are merged with a stable sort on the path, so each module keeps its modversions in file order.
dump_modversions() {
  local dir="$CORPUS/$1" k out parts
  out="$dir/modversions.tsv"
  [[ -s "$out" ]] && return 0
  k=$(cat "$dir/RELEASE")
  log "modprobe --dump-modversions over $1"
  parts="$dir/.modversions.parts"
  rm -rf "$parts"; mkdir -p "$parts"
  (cd "$dir/lib/modules/$k" && find kernel -type f -name '*.ko*' -print0 | sort -z) \
    | (cd "$dir/lib/modules/$k" && P="$parts" xargs -0 -r -n 64 -P "$JOBS" bash -c \
        'o=$(mktemp -p "$P"); for f; do modprobe --dump-modversions "$f" | sed "s|^|$f\t|"; done > "$o"' _)
  cat "$parts"/* | LC_ALL=C sort -s -t $'\t' -k1,1 > "$out.tmp"
  rm -rf "$parts"
  mv "$out.tmp" "$out"
}

START=$SECONDS

# --- cases -------------------------------------------------------------------------------------------
fetch_image amd64-6.1 "$K_AMD64_61" amd64
recompress amd64-6.1 amd64-6.1-zst zst
if [[ "$SMALL" != 1 ]]; then
  fetch_image amd64-6.12 "$K_AMD64_612" amd64
  fetch_image s390x-6.1 "$K_S390X_61" s390x
  fetch_image i386-6.1 "$K_I386_61" i386
  recompress amd64-6.1 amd64-6.1-gz gz
fi

# --- Module.symvers of many amd64 kernels -------------------------------------------------------------
if [[ "$SMALL" == 1 ]]; then flavour_re='-amd64$'; else flavour_re='-(amd64|cloud-amd64|rt-amd64)$'; fi
mapfile -t HEADER_KS < <(apt-cache pkgnames linux-headers-6. \
  | sed -n 's/^linux-headers-//p' \
  | grep -E '^(6\.1\.0-[0-9]+|6\.12\.[0-9]+\+deb12)-' | grep -E -e "$flavour_re" | grep -Ev -- '-(common|common-rt)$' \
  | sort -V)
[[ ${#HEADER_KS[@]} -gt 0 ]] || { echo "corpus.sh: apt-cache lists no linux-headers-6.1.0-*/6.12.* packages" >&2; exit 1; }
for k in "${HEADER_KS[@]}"; do
  # rt-amd64 etc. are all amd64 packages
  fetch_symvers "$k" amd64 "$CORPUS/symvers/$k/Module.symvers"
done

# --- modversions dumps (used for pair counts) --------------------------------------------------------
for c in amd64-6.1 amd64-6.12 s390x-6.1 i386-6.1; do
  [[ -e "$CORPUS/$c/.image-done" ]] && dump_modversions "$c"
done

# --- manifest + kABI pairs ---------------------------------------------------------------------------
log "writing manifest.json"
CORPUS="$CORPUS" node - <<'EOF'
const fs = require("fs");
const path = require("path");
const root = process.env.CORPUS;

function readSymvers(file) {
  const map = new Map();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const [crc, sym] = line.split("\t");
    map.set(sym, parseInt(crc, 16) >>> 0);
  }
  return map;
}
const hex = (n) => "0x" + n.toString(16).padStart(8, "0");

const caseDefs = [
  ["amd64-6.1", "amd64", "none"],
  ["amd64-6.1-gz", "amd64", "gzip"],
  ["amd64-6.1-zst", "amd64", "zstd"],
  ["amd64-6.12", "amd64", "xz"],
  ["s390x-6.1", "s390x", "none"],
  ["i386-6.1", "i386", "none"],
];
const cases = [];
for (const [id, arch, compression] of caseDefs) {
  const dir = path.join(root, id);
  if (!fs.existsSync(path.join(dir, ".image-done"))) continue;
  const release = fs.readFileSync(path.join(dir, "RELEASE"), "utf8").trim();
  const modulesDir = path.join(dir, "lib/modules", release);
  const [pkg, version] = fs.readFileSync(path.join(dir, "SOURCE"), "utf8").split("\n")[0].split("\t");
  cases.push({ id, arch, release, modulesDir, symvers: path.join(dir, "Module.symvers"), compression,
               package: pkg, packageVersion: version });
}

const symvers = [];
for (const release of fs.readdirSync(path.join(root, "symvers")).sort()) {
  const file = path.join(root, "symvers", release, "Module.symvers");
  if (!fs.existsSync(file)) continue;
  const [pkg, version, arch] = fs.readFileSync(path.join(root, "symvers", release, "SOURCE"), "utf8").trim().split("\t");
  const map = readSymvers(file);
  const ml = map.get("module_layout");
  symvers.push({ release, symvers: file, arch, package: pkg, packageVersion: version,
                 moduleLayout: ml === undefined ? null : hex(ml), exports: map.size, _map: map });
}

// Modules of a case image, with their modversions, from the cached modversions.tsv.
function caseModules(c) {
  const mods = new Map();
  const tsv = path.join(root, c.id, "modversions.tsv");
  if (!fs.existsSync(tsv)) return null;
  for (const line of fs.readFileSync(tsv, "utf8").split("\n")) {
    if (!line) continue;
    const [p, crc, sym] = line.split("\t");
    if (!mods.has(p)) mods.set(p, []);
    mods.get(p).push([parseInt(crc, 16) >>> 0, sym]);
  }
  return mods;
}
function satisfy(mods, map) {
  let ok = 0, bad = 0;
  const missing = new Map();
  const examplesOk = [], examplesBad = [];
  for (const [p, vers] of mods) {
    const misses = vers.filter(([crc, sym]) => map.get(sym) !== crc);
    if (misses.length === 0) { ok++; if (examplesOk.length < 5) examplesOk.push(p); }
    else {
      bad++;
      if (examplesBad.length < 5) examplesBad.push(p);
      for (const [, sym] of misses) missing.set(sym, (missing.get(sym) || 0) + 1);
    }
  }
  const topMismatched = [...missing].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([s, n]) => ({ symbol: s, modules: n }));
  return { modules: mods.size, satisfied: ok, unsatisfied: bad, examplesSatisfied: examplesOk,
           examplesUnsatisfied: examplesBad, topMismatchedSymbols: topMismatched };
}

// Pairs: every two symvers of the same line (6.1 / 6.12) and architecture; layoutMatch says whether
// module_layout CRCs agree (cloud/rt flavours included: e.g. 6.12 amd64 and cloud-amd64 share it).
const line = (r) => (r.startsWith("6.12.") ? "6.12" : r.startsWith("6.1.") ? "6.1" : "?");
const flavour = (r) => r.replace(/^6\.1\.0-\d+-|^6\.12\.\d+\+deb12-/, "");
const pairs = [];
const imageCases = cases.filter((c) => c.compression !== "gzip" && c.compression !== "zstd");
const modsCache = new Map();
for (let i = 0; i < symvers.length; i++) {
  for (let j = i + 1; j < symvers.length; j++) {
    const a = symvers[i], b = symvers[j];
    if (line(a.release) !== line(b.release) || a.arch !== b.arch) continue;
    const pair = { a: a.release, b: b.release, sameFlavour: flavour(a.release) === flavour(b.release), moduleLayoutA: a.moduleLayout, moduleLayoutB: b.moduleLayout,
                   layoutMatch: a.moduleLayout !== null && a.moduleLayout === b.moduleLayout };
    // Module-level check when one side is a fetched image: its modules against the other's symvers.
    for (const [img, other] of [[a, b], [b, a]]) {
      const c = imageCases.find((x) => x.release === img.release);
      if (!c) continue;
      if (!modsCache.has(c.id)) modsCache.set(c.id, caseModules(c));
      const mods = modsCache.get(c.id);
      if (!mods) continue;
      pair.moduleCheck = { image: c.id, imageRelease: img.release, againstSymvers: other.release,
                           ...satisfy(mods, other._map) };
    }
    pairs.push(pair);
  }
}
// Sanity: every image against its own symvers.
const selfChecks = [];
for (const c of imageCases) {
  const s = symvers.find((x) => x.release === c.release);
  if (!s) continue;
  if (!modsCache.has(c.id)) modsCache.set(c.id, caseModules(c));
  const mods = modsCache.get(c.id);
  if (mods) selfChecks.push({ image: c.id, release: c.release, ...satisfy(mods, s._map) });
}
for (const s of symvers) delete s._map;
const manifest = { generated: new Date().toISOString(), corpusDir: root, cases, symvers, pairs, selfChecks };
fs.writeFileSync(path.join(root, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
const compat = pairs.filter((p) => p.layoutMatch).length;
console.error(`manifest: ${cases.length} cases, ${symvers.length} symvers, ${pairs.length} pairs (${compat} with equal module_layout)`);
EOF

log "done in $((SECONDS - START))s; corpus at $CORPUS ($(du -sh "$CORPUS" | cut -f1))"
