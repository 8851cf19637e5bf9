set -o pipefail
false | true; echo "pipefail rc=$?"
( set -e; echo before; false; echo not-reached ); echo "errexit rc=$?"
echo "${PIPESTATUS[@]}"
