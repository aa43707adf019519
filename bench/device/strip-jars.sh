# Sourced by bench/device/bundle.sh and bench/device/maven-gpu-bundle.sh: trims jars for the GPU machine's 64 MiB bundle.

# strip_fastutil JAR: fastutil-core is 6.6 MB (the full fastutil 24 MB); keep only the packages Arbor uses (ints,
# objects, the base). Classes Arbor never loads go; nothing it loads changes.
strip_fastutil() {
  zip -q -d "$1" 'it/unimi/dsi/fastutil/doubles/*' 'it/unimi/dsi/fastutil/floats/*' 'it/unimi/dsi/fastutil/longs/*' \
    'it/unimi/dsi/fastutil/shorts/*' 'it/unimi/dsi/fastutil/bytes/*' 'it/unimi/dsi/fastutil/chars/*' 'it/unimi/dsi/fastutil/booleans/*' \
    'it/unimi/dsi/fastutil/io/*' >/dev/null || true
  for t in Short Float Double Boolean Byte Char Long Reference; do
    zip -q -d "$1" "it/unimi/dsi/fastutil/objects/Object2$t*" "it/unimi/dsi/fastutil/objects/AbstractObject2$t*" \
      "it/unimi/dsi/fastutil/objects/Reference2*" "it/unimi/dsi/fastutil/objects/AbstractReference2*" \
      "it/unimi/dsi/fastutil/ints/Int2$t*" "it/unimi/dsi/fastutil/ints/AbstractInt2$t*" >/dev/null 2>&1 || true
  done
}
