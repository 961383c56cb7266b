#!/usr/bin/env bash
# Assembles Apache Kafka (broker + CLI tools + Java client) from Maven Central into .cache/kafka.
#
# Why: the test suites need Kafka's own tools (kafka-dump-log, kafka-topics, kafka-configs, console
# producer/consumer, GetOffsetShell) and a real reference broker, but only Maven Central is reachable,
# so we resolve the jars with Maven instead of downloading a binary distribution.
#
# Result:
#   .cache/kafka/libs/*.jar              all runtime jars (kafka_2.13, kafka-tools, kafka-clients, deps, log4j2 binding)
#   .cache/kafka/config/log4j2.properties quiet logging (WARN to stderr)
#   .cache/kafka/bin/kafka-run-class     launcher:  kafka-run-class <main.Class> [args...]
#   .cache/kafka/VERSION                 "<kafka version> layout-<n>" (written last: marks completion)
# The Maven local repository lives in .cache/m2 so nothing global is touched.
#
# Idempotent: prints nothing and exits 0 quickly when the requested version is already assembled.
# Env: KAFKA_VERSION (default 4.1.2), SLUICE_CACHE_DIR (default <repo>/.cache), MVN (default mvn).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
LOG4J_VERSION="${LOG4J_VERSION:-2.25.3}"
# Bump when the assembled layout changes (launcher, config), so existing caches get rebuilt.
LAYOUT_REVISION=2
STAMP="$KAFKA_VERSION layout-$LAYOUT_REVISION"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${SLUICE_CACHE_DIR:-$REPO_ROOT/.cache}"
KAFKA_HOME="$CACHE_DIR/kafka"
M2_REPO="$CACHE_DIR/m2"
MVN="${MVN:-mvn}"

# Fast path: already assembled with this version.
if [[ -f "$KAFKA_HOME/VERSION" && "$(cat "$KAFKA_HOME/VERSION")" == "$STAMP" \
      && -x "$KAFKA_HOME/bin/kafka-run-class" \
      && -f "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" \
      && -f "$KAFKA_HOME/libs/kafka-tools-$KAFKA_VERSION.jar" ]]; then
  exit 0
fi

for tool in "$MVN" java; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kafka-dist.sh: '$tool' not found on PATH (install a JDK 17+ and Maven, e.g. apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

echo "kafka-dist.sh: assembling Apache Kafka $KAFKA_VERSION into $KAFKA_HOME" >&2
rm -rf "$KAFKA_HOME.tmp"
mkdir -p "$KAFKA_HOME.tmp/build" "$KAFKA_HOME.tmp/libs" "$KAFKA_HOME.tmp/bin" "$KAFKA_HOME.tmp/config" "$M2_REPO"

# A throwaway project whose only purpose is to name the artifacts whose runtime closure we want.
cat > "$KAFKA_HOME.tmp/build/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.tools</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- Kafka 4.1 is built against slf4j-api 1.7.x, so the log4j2 binding is the slf4j 1.x one. -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
POM

log="$KAFKA_HOME.tmp/build/mvn.log"
if ! "$MVN" -B -q -f "$KAFKA_HOME.tmp/build/pom.xml" -Dmaven.repo.local="$M2_REPO" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME.tmp/libs" \
      >"$log" 2>&1; then
  echo "kafka-dist.sh: Maven failed to resolve Kafka $KAFKA_VERSION; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi

# Kafka's own log4j binding must be the only one: drop other slf4j providers that may ride along.
find "$KAFKA_HOME.tmp/libs" \( -name 'log4j-slf4j2-impl-*.jar' -o -name 'slf4j-reload4j-*.jar' -o -name 'slf4j-log4j12-*.jar' -o -name 'slf4j-simple-*.jar' -o -name 'logback-classic-*.jar' \) -delete

cat > "$KAFKA_HOME.tmp/config/log4j2.properties" <<'L4J'
# Quiet logging for tests: warnings and errors only, to stderr.
status = error
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
# follow: write to the current System.err, so tools run in a shared JVM have their logs captured per call.
appender.stderr.follow = true
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
L4J

cat > "$KAFKA_HOME.tmp/bin/kafka-run-class" <<'RUN'
#!/usr/bin/env bash
# Runs a Kafka main class with the assembled classpath, like Kafka's bin/kafka-run-class.sh.
# Usage: kafka-run-class <main.Class> [args...]   (KAFKA_HEAP_OPTS / KAFKA_OPTS / KAFKA_LOG4J_CONFIG to override)
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 1 ]] || { echo "usage: kafka-run-class <main.Class> [args...]" >&2; exit 2; }
main="$1"; shift
heap="${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m}"
log4j="${KAFKA_LOG4J_CONFIG:-$home/config/log4j2.properties}"
# shellcheck disable=SC2086
exec java $heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j" -Dlog4j.configuration="file:$log4j" \
  ${KAFKA_OPTS:-} -cp "$home/libs/*" "$main" "$@"
RUN
chmod +x "$KAFKA_HOME.tmp/bin/kafka-run-class"

for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar"; do
  [[ -f "$KAFKA_HOME.tmp/libs/$jar" ]] || { echo "kafka-dist.sh: $jar missing after resolution" >&2; exit 1; }
done

echo "$STAMP" > "$KAFKA_HOME.tmp/VERSION"
rm -rf "$KAFKA_HOME"
mv "$KAFKA_HOME.tmp" "$KAFKA_HOME"
echo "kafka-dist.sh: Kafka $KAFKA_VERSION ready ($(ls "$KAFKA_HOME/libs" | wc -l) jars)" >&2
