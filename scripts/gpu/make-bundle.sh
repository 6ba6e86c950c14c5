#!/usr/bin/env bash
# Builds .gpu/ (git-ignored), what scripts/gpu/device-run.sh needs on a GPU host without a JDK: a jlink runtime, the
# CLI and its jars (without the trainer's PyTorch/DJL, ONNX Runtime and the shaded gRPC transport, which the device
# tool's 64 MiB limit leaves no room for), the kernels' and clients' test classes and the JUnit console launcher.
# Run after `mvn -B -q -DskipTests install && mvn -B -q -pl kernels,clients test-compile`.
set -euo pipefail
cd "$(dirname "$0")/../.."
J="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mkdir -p .gpu/lib
rm -f .gpu/lib/*.jar
if [[ ! -f .gpu/jre.tar.gz || "${REBUILD_JRE:-0}" == 1 ]]; then
  tmp=$(mktemp -d)
  "$J/bin/jlink" --add-modules java.base,java.logging,java.xml,java.management,java.net.http,jdk.unsupported,jdk.incubator.vector,jdk.jfr,jdk.management,jdk.management.jfr \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$tmp/jre-gpu"
  tar -C "$tmp" -czf .gpu/jre.tar.gz jre-gpu
  rm -rf "$tmp"
fi
for jar in clients/target/lib/*.jar; do
  case "$(basename "$jar")" in
    api-*|pytorch-*|onnxruntime-*|jna-*|grpc-netty-shaded-*|commons-compress-*|commons-io-*|gson-*|HdrHistogram-*|distill-*|load-tests-*) ;;
    *) cp "$jar" .gpu/lib/ ;;
  esac
done
cp clients/target/switchback-cli.jar model-store/target/model-store-*-tests.jar .gpu/lib/
rm -f .gpu/kernels-tests.jar .gpu/clients-tests.jar
"$J/bin/jar" --create --file .gpu/kernels-tests.jar -C kernels/target/test-classes .
"$J/bin/jar" --create --file .gpu/clients-tests.jar -C clients/target/test-classes .
cp ~/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.12.2/junit-platform-console-standalone-1.12.2.jar .gpu/
du -sh .gpu
