#!/bin/sh
# Installs the `inlet` command from this repository: a framework-dependent Release build (it runs on the
# installed .NET 10 runtime) published to a prefix, with a symlink in a folder on the PATH. Starting it costs a
# fraction of a second, where `dotnet run --project src/Inlet` builds and checks the project on every call.
#
#   scripts/install.sh                       # ~/.local/share/inlet, linked from ~/.local/bin/inlet
#   scripts/install.sh --prefix DIR --bin DIR
#
# Run it again to update. Remove with: rm -r ~/.local/share/inlet ~/.local/bin/inlet
set -eu

prefix="${HOME}/.local/share/inlet"
bindir="${HOME}/.local/bin"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --bin) bindir="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${prefix%/}"
mkdir -p "$(dirname "$prefix")"
# Published next to the prefix and moved into place, so that a failed build leaves the old install working.
staging="$(mktemp -d "${prefix}.new.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
dotnet publish "$repo/src/Inlet/Inlet.csproj" --configuration Release --self-contained false --use-current-runtime --output "$staging" --nologo --verbosity quiet

if [ -e "$prefix" ]; then
  # Never delete a folder this script did not make.
  if [ ! -f "$prefix/inlet.dll" ]; then
    echo "install.sh: $prefix exists and is not an Inlet install; not replacing it (choose another --prefix)" >&2
    exit 1
  fi
  rm -rf "$prefix"
fi
mv "$staging" "$prefix"
trap - EXIT

mkdir -p "$bindir"
ln -sfn "$prefix/inlet" "$bindir/inlet"

if ! "$bindir/inlet" --version >/dev/null 2>&1; then
  # The launcher looks for the runtime in the standard places; a .NET installed elsewhere is named by DOTNET_ROOT.
  echo "install.sh: installed, but $bindir/inlet does not start; set DOTNET_ROOT=$(dirname "$(readlink -f "$(command -v dotnet)")")" >&2
  exit 1
fi

echo "inlet $("$bindir/inlet" --version) installed in $prefix, linked from $bindir/inlet"
case ":${PATH}:" in
  *":${bindir}:"*) ;;
  *) echo "Add $bindir to your PATH to run it as inlet: export PATH=\"$bindir:\$PATH\"" ;;
esac
