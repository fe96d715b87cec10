#!/usr/bin/env bash
# Refresh the third-party browser assets committed under app/static/vendor/ from npm.
#
# The gateway serves /docs and /redoc from these files, so it works without internet access;
# they are committed (and shipped in the wheel) so that neither installing nor building the
# Docker image needs npm. Run `make vendor` after changing a version below, then commit.
# npm verifies each tarball against the registry's integrity hash; the files' own SHA-256
# are written to app/static/vendor/VERSIONS and checked by the test suite.
set -euo pipefail

SWAGGER_UI_DIST=5.35.0
REDOC=2.5.4   # the 2.x line: 3.x sends telemetry and needs a module script

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/app/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "swagger-ui-dist@$SWAGGER_UI_DIST" "redoc@$REDOC" >/dev/null
mkdir swagger redoc
tar -xzf "swagger-ui-dist-$SWAGGER_UI_DIST.tgz" -C swagger
tar -xzf "redoc-$REDOC.tgz" -C redoc

rm -rf "$DEST/swagger-ui" "$DEST/redoc"
mkdir -p "$DEST/swagger-ui" "$DEST/redoc"
cp swagger/package/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE} "$DEST/swagger-ui/"
cp swagger/package/swagger-ui-bundle.js.LICENSE.txt "$DEST/swagger-ui/"
cp redoc/package/LICENSE "$DEST/redoc/"
cp redoc/package/bundles/{redoc.standalone.js,redoc.standalone.js.LICENSE.txt} "$DEST/redoc/"
# The files are shipped as npm has them (without their source maps), but for one line: ReDoc's
# sidebar footer loads its logo from a CDN, which an offline page cannot reach. It is pointed at
# a blank local image instead (the "API docs by Redocly" text stays).
LOGO='https://cdn.redoc.ly/redoc/logo-mini.svg'
test "$(grep -o "$LOGO" "$DEST/redoc/redoc.standalone.js" | wc -l)" -eq 1
sed -i "s#\"$LOGO\"#\"static/vendor/redoc/logo-mini.svg\"#" "$DEST/redoc/redoc.standalone.js"
if grep -q 'cdn\.redoc\.ly' "$DEST/redoc/redoc.standalone.js"; then
  echo "ReDoc still references its CDN" >&2
  exit 1
fi
printf '%s\n' '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16"/>' \
  > "$DEST/redoc/logo-mini.svg"

{
  echo "# Vendored browser assets: package, version, then the SHA-256 of each shipped file."
  echo "# Regenerate with 'make vendor' (scripts/vendor_assets.sh); do not edit by hand."
  echo "swagger-ui-dist $SWAGGER_UI_DIST"
  echo "redoc $REDOC"
  cd "$DEST"
  find swagger-ui redoc -type f | LC_ALL=C sort | xargs sha256sum
} > "$DEST/VERSIONS"
echo "vendored swagger-ui-dist $SWAGGER_UI_DIST and redoc $REDOC into app/static/vendor"
