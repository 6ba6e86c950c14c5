#!/usr/bin/env bash
# Builds .gpu/ (git-ignored), what scripts/gpu/device-run.sh needs on a GPU host without a JDK: a jlink runtime, the
# CLI and its jars (without the trainer's PyTorch/DJL and ONNX Runtime, which the device tool's 64 MiB limit leaves no
# room for), the kernels' and clients' test classes and the JUnit console launcher.
# Run after `mvn -B -q -DskipTests install && mvn -B -q -pl kernels,clients test-compile`.
set -euo pipefail
cd "$(dirname "$0")/../.."
J="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mkdir -p .gpu/lib
rm -f .gpu/lib/*.jar
# An uncompressed image packed with xz (16 MB) rather than jlink's zip-9 packed with gzip (30 MB): xz compresses the
# whole image at once. About a minute, so it is kept between bundles.
rm -f .gpu/jre.tar.gz
if [[ ! -f .gpu/jre.tar.xz || "${REBUILD_JRE:-0}" == 1 ]]; then
  tmp=$(mktemp -d)
  "$J/bin/jlink" --add-modules java.base,java.logging,java.xml,java.management,java.net.http,jdk.unsupported,jdk.incubator.vector,jdk.jfr,jdk.management,jdk.management.jfr \
    --strip-debug --no-header-files --no-man-pages --compress=zip-0 --output "$tmp/jre-gpu"
  tar -C "$tmp" -cJf .gpu/jre.tar.xz jre-gpu
  rm -rf "$tmp"
fi
for jar in clients/target/lib/*.jar; do
  case "$(basename "$jar")" in
    api-*|pytorch-*|onnxruntime-*|jna-*|grpc-netty-shaded-*|commons-compress-*|commons-io-*|gson-*|HdrHistogram-*|distill-*|load-tests-*) ;;
    *) cp "$jar" .gpu/lib/ ;;
  esac
done
cp clients/target/switchback-cli.jar model-store/target/model-store-*-tests.jar .gpu/lib/
# The shaded gRPC transport without its TLS natives for five platforms (15 MB; the NCCL rendezvous and the tests use
# plaintext on loopback), so that it fits: gRPC then runs on Netty's epoll or NIO transport.
python3 - clients/target/lib/grpc-netty-shaded-1.76.0.jar .gpu/lib/grpc-netty-shaded-1.76.0.jar <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if "netty_tcnative" not in item.filename:
            zout.writestr(item, zin.read(item.filename))
PY
rm -f .gpu/kernels-tests.jar .gpu/clients-tests.jar
"$J/bin/jar" --create --file .gpu/kernels-tests.jar -C kernels/target/test-classes .
"$J/bin/jar" --create --file .gpu/clients-tests.jar -C clients/target/test-classes .
cp ~/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.12.2/junit-platform-console-standalone-1.12.2.jar .gpu/
du -sh .gpu
