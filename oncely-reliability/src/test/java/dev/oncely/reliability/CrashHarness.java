package dev.oncely.reliability;

import dev.oncely.reliability.CrashableConsumer.Phase;
import dev.oncely.testdatabases.TestDatabase;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@link CrashableConsumer} child JVMs against a durable "broker" table on PostgreSQL, kills them with
 * SIGKILL ({@link Process#destroyForcibly()}) at random moments and restarts them, terminates their database
 * backends at random, and finally checks that every message's effect exists exactly once.
 */
final class CrashHarness {

    /**
     * @param messages          unique messages published
     * @param brokerDuplicatesPermille extra copies the "broker" publishes (redeliveries), per thousand messages
     * @param consumers         child processes running at once, one partition each
     * @param duration          the publishing is spread over this time (zero: all at once)
     * @param killEvery         mean time between SIGKILLs of one child
     * @param maxKills          stop killing after this many (then the children drain the broker); negative:
     *                          kill until everything is published
     * @param backendKillEvery  mean time between pg_terminate_backend of a random child backend (zero: never)
     * @param handlerFailurePermille injected handler failures per thousand handler runs
     * @param deadline          the whole run must end within this time
     * @param progressEvery     print a progress line this often (null: never)
     */
    record Config(String name, int messages, int brokerDuplicatesPermille, int consumers, Duration duration,
                  Duration killEvery, int maxKills, Duration backendKillEvery, int handlerFailurePermille,
                  Duration deadline, long seed, Duration progressEvery) {
    }

    record Result(int messages, long published, int sigkills, Map<Phase, Integer> killsByPhase, int stallRestarts,
                  int backendsTerminated, long handlerFailures, long storeErrors, long starts, long duplicateEffects,
                  long lostMessages, long unknownEffects, long claims, long acked, long duplicateOutcomes,
                  Duration elapsed) {

        String summary() {
            return String.format("%d unique messages (%d deliveries published incl. broker duplicates),"
                            + " %d SIGKILLs by phase %s, %d restarts of stalled consumers, %d backends terminated, %d injected handler failures,"
                            + " %d store errors seen by consumers, %d process starts, %d acks, %d duplicate"
                            + " outcomes; result: %d duplicate effects, %d lost messages, %d unexpected effects;"
                            + " %d claims; %d s",
                    messages, published, sigkills, killsByPhase, stallRestarts, backendsTerminated, handlerFailures, storeErrors,
                    starts, acked, duplicateOutcomes, duplicateEffects, lostMessages, unknownEffects, claims,
                    elapsed.toSeconds());
        }

        long faults() {
            return sigkills + backendsTerminated + handlerFailures;
        }
    }

    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final TestDatabase db;
    private final Config config;
    private final String broker;
    private final EffectsTable tables;
    private final Path workDir;
    private final String application;

    CrashHarness(TestDatabase db, Config config) throws IOException {
        this.db = db;
        this.config = config;
        this.broker = "rel_" + config.name() + "_broker";
        this.tables = new EffectsTable(db, config.name());
        this.workDir = Files.createDirectories(Path.of("target", "crash-" + config.name()));
        this.application = "oncely-rel-" + config.name();
    }

    Result run() throws Exception {
        long start = System.nanoTime();
        Random random = new Random(config.seed());
        setUp();
        try {
            Child[] children = new Child[config.consumers()];
            for (int p = 0; p < children.length; p++) {
                children[p] = new Child(p);
                children[p].start(random);
            }
            long published = 0;
            int nextMessage = 0;
            int sigkills = 0;
            int backends = 0;
            int stallRestarts = 0;
            Map<Phase, Integer> byPhase = new EnumMap<>(Phase.class);
            long nextBackendKill = config.backendKillEvery().isZero() ? Long.MAX_VALUE
                    : System.nanoTime() + jitter(random, config.backendKillEvery());
            long deadline = start + config.deadline().toNanos();
            long nextProgress = start;
            while (true) {
                long now = System.nanoTime();
                if (now > deadline) {
                    throw new AssertionError("The run " + config.name() + " did not finish within "
                            + config.deadline() + ": " + remaining() + " messages still in the broker");
                }
                // Publish what is due.
                int due = config.duration().isZero() ? config.messages()
                        : (int) Math.min(config.messages(),
                        (double) config.messages() * (now - start) / config.duration().toNanos());
                if (due > nextMessage) {
                    published += publish(nextMessage, due, random);
                    nextMessage = due;
                }
                boolean allPublished = nextMessage >= config.messages();
                boolean killing = config.maxKills() < 0 ? !allPublished : sigkills < config.maxKills();
                for (Child child : children) {
                    if (!child.process.isAlive()) {
                        int code = child.process.exitValue();
                        if (code != 0) {
                            throw new AssertionError("Consumer " + child.partition + " exited with " + code
                                    + " without being killed; see " + child.log);
                        }
                        // While kills remain planned, keep consumers running even with nothing to do: on a fast
                        // machine they can drain the broker before the last planned SIGKILL, and the run would then
                        // wait for kills that cannot happen (killing an idle consumer is a fault while fetching).
                        if (!allPublished || child.hasWork() || killing) {
                            child.start(random);
                        }
                        continue;
                    }
                    long acked = child.acked();
                    if (acked != child.lastAcked) {
                        child.lastAcked = acked;
                        child.lastProgress = now;
                    } else if (now - child.lastProgress > STALL_NANOS && child.hasWork()) {
                        // A consumer alive but acknowledging nothing for 30 s while its partition has messages is
                        // wedged (seen: a HikariCP pool whose first connection was terminated during its set-up
                        // never made another); a real deployment's health check restarts it, and so does this.
                        child.process.destroyForcibly();
                        child.process.waitFor(10, TimeUnit.SECONDS);
                        stallRestarts++;
                        child.start(random);
                        continue;
                    }
                    if (child.killAt < 0 && child.phase() != Phase.STARTING) {
                        // Consuming: the next SIGKILL comes at a random moment from now.
                        child.killAt = now + jitter(random, config.killEvery());
                    }
                    if (killing && child.killAt >= 0 && now >= child.killAt) {
                        Phase phase = child.phase();
                        child.process.destroyForcibly();
                        child.process.waitFor(10, TimeUnit.SECONDS);
                        sigkills++;
                        byPhase.merge(phase, 1, Integer::sum);
                        child.start(random);
                    }
                }
                if (now >= nextBackendKill && killing) {
                    backends += terminateARandomBackend();
                    nextBackendKill = now + jitter(random, config.backendKillEvery());
                }
                if (allPublished && !killing && remaining() == 0) {
                    // Every message is acknowledged and no kill remains: stop the consumers, which idle at an
                    // empty broker rather than exit (an exiting consumer cannot be killed, and a run waiting for a
                    // planned kill would wait forever; a wedged one would never exit at all).
                    for (Child child : children) {
                        child.process.destroyForcibly();
                        child.process.waitFor(10, TimeUnit.SECONDS);
                    }
                    break;
                }
                if (config.progressEvery() != null && now >= nextProgress) {
                    System.out.printf("[%s] %d s: published %d, in broker %d, effects %d, SIGKILLs %d,"
                                    + " backends terminated %d%n", config.name(), (now - start) / 1_000_000_000L,
                            published, remaining(), tables.effectRows(), sigkills, backends);
                    nextProgress = now + config.progressEvery().toNanos();
                }
                Thread.sleep(20);
            }
            long[] sums = new long[CrashableConsumer.STATUS_SIZE];
            for (Child child : children) {
                child.sumInto(sums);
            }
            Map<String, Integer> effects = tables.effectCounts();
            long duplicateEffects = effects.values().stream().filter(n -> n > 1).mapToLong(n -> n - 1).sum();
            long lost = 0;
            for (int i = 0; i < config.messages(); i++) {
                if (!effects.containsKey(key(i))) {
                    lost++;
                }
            }
            long unknown = effects.keySet().stream().filter(k -> !k.startsWith("m-")).count();
            return new Result(config.messages(), published, sigkills, byPhase, stallRestarts, backends,
                    sums[CrashableConsumer.HANDLER_FAILURES], sums[CrashableConsumer.STORE_ERRORS],
                    sums[CrashableConsumer.STARTS], duplicateEffects, lost, unknown, tables.claimRows(),
                    sums[CrashableConsumer.ACKED], sums[CrashableConsumer.DUPLICATES],
                    Duration.ofNanos(System.nanoTime() - start));
        } finally {
            for (Child child : children()) {
                child.process.destroyForcibly();
            }
            tearDown();
        }
    }

    private final List<Child> started = new ArrayList<>();

    private List<Child> children() {
        return started;
    }

    static String key(int i) {
        return "m-" + i;
    }

    private void setUp() {
        tearDown();
        Databases.execute(db, "CREATE TABLE " + broker + " (id bigserial PRIMARY KEY, event_id varchar(255) NOT NULL,"
                + " part int NOT NULL)", "CREATE INDEX " + broker + "_part_idx ON " + broker + " (part, id)");
        try (var pool = Databases.pool(db, 1, c -> { })) {
            tables.recreate(pool);
        }
    }

    void tearDown() {
        Databases.execute(db, "DROP TABLE IF EXISTS " + broker);
        tables.drop();
    }

    private long publish(int from, int to, Random random) throws SQLException {
        long rows = 0;
        try (Connection c = Databases.connect(db);
             PreparedStatement ps = c.prepareStatement("INSERT INTO " + broker + " (event_id, part) VALUES (?, ?)")) {
            c.setAutoCommit(false);
            for (int i = from; i < to; i++) {
                int copies = 1 + (random.nextInt(1000) < config.brokerDuplicatesPermille() ? 1 : 0);
                for (int copy = 0; copy < copies; copy++) {
                    ps.setString(1, key(i));
                    // A broker duplicate may land on another partition: two consumers race for the same key.
                    ps.setInt(2, copy == 0 ? i % config.consumers() : random.nextInt(config.consumers()));
                    ps.addBatch();
                    rows++;
                }
                if (rows % 1000 == 0) {
                    ps.executeBatch();
                }
            }
            ps.executeBatch();
            c.commit();
        }
        return rows;
    }

    private long remaining() {
        return Databases.count(db, "SELECT count(*) FROM " + broker);
    }

    private int terminateARandomBackend() {
        try (Connection c = Databases.connect(db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     + " WHERE application_name = '" + application + "' AND datname = current_database()"
                     + " ORDER BY random() LIMIT 1")) {
            return rs.next() && rs.getBoolean(1) ? 1 : 0;
        } catch (SQLException e) {
            throw new IllegalStateException("pg_terminate_backend failed: " + e.getMessage(), e);
        }
    }

    private static long jitter(Random random, Duration mean) {
        return (long) (mean.toNanos() * (0.2 + 1.6 * random.nextDouble()));
    }

    private final class Child {
        final int partition;
        final File status;
        final File log;
        final MappedByteBuffer statusBuffer;
        Process process;
        long killAt;
        long lastAcked = -1;
        long lastProgress;

        Child(int partition) throws IOException {
            this.partition = partition;
            this.status = workDir.resolve("status-" + partition).toFile();
            this.log = workDir.resolve("consumer-" + partition + ".log").toFile();
            Files.write(status.toPath(), new byte[CrashableConsumer.STATUS_SIZE]);
            Files.deleteIfExists(log.toPath());
            try (RandomAccessFile raf = new RandomAccessFile(status, "rw"); FileChannel ch = raf.getChannel()) {
                statusBuffer = ch.map(FileChannel.MapMode.READ_WRITE, 0, CrashableConsumer.STATUS_SIZE);
            }
            started.add(this);
        }

        void start(Random random) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(javaBinary(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
                    "-XX:+UseSerialGC", "-Xshare:auto", "-cp", System.getProperty("java.class.path"),
                    CrashableConsumer.class.getName(), broker, tables.effects, tables.claims,
                    String.valueOf(partition), String.valueOf(config.consumers()), status.getAbsolutePath(),
                    String.valueOf(config.handlerFailurePermille()), "false");
            pb.environment().put("ONCELY_CHILD_URL", db.jdbcUrl());
            pb.environment().put("ONCELY_CHILD_USER", db.user());
            pb.environment().put("ONCELY_CHILD_PASSWORD", db.password());
            pb.environment().put("ONCELY_CHILD_APP", application);
            pb.redirectErrorStream(true);
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log));
            statusBuffer.put(0, (byte) Phase.STARTING.ordinal());
            process = pb.start();
            // One start in ten is killed while the JVM is still starting (before any handler runs); the others
            // once they consume, so a slow machine does not turn the run into nothing but JVM starts.
            lastProgress = System.nanoTime();
            killAt = random.nextInt(10) == 0 ? System.nanoTime() + random.nextInt(300) * 1_000_000L : -1;
        }

        boolean hasWork() {
            return Databases.count(db, "SELECT count(*) FROM " + broker + " WHERE part = " + partition) > 0;
        }

        long acked() {
            return statusBuffer.getLong(CrashableConsumer.ACKED);
        }

        Phase phase() {
            return Phase.of(statusBuffer.get(0));
        }

        void sumInto(long[] sums) {
            for (int offset = 8; offset < CrashableConsumer.STATUS_SIZE; offset += 8) {
                sums[offset] += statusBuffer.getLong(offset);
            }
        }
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
