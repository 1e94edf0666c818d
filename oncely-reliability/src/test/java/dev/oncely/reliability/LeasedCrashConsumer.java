package dev.oncely.reliability;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.KeyInProgressException;
import dev.oncely.LeaseLostException;
import dev.oncely.LeasedHandler;
import dev.oncely.OncelyException;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.List;

/**
 * The consumer process that {@link LeaseProcessKillTest} kills with SIGKILL: it charges each of its keys through a
 * {@link LeasedHandler} whose step "charge" calls the payment service with {@code run.downstreamKey("charge")} as the
 * {@code Idempotency-Key}. On the first attempt of the fault key it stops at the fault point, writes the point into
 * a memory-mapped status file and waits there until the parent either kills it or lets it go on.
 *
 * <p>Arguments: claimsTable paymentUri statusFile faultKey(or -) faultPoint leaseMillis key,key,... The database
 * comes from the environment: ONCELY_CHILD_URL, ONCELY_CHILD_USER, ONCELY_CHILD_PASSWORD.
 */
public final class LeasedCrashConsumer {

    /** Where the fault key's first run stops; byte 0 of the status file once it got there. */
    enum Point {
        NONE, BEFORE_CALL, DURING_CALL, AFTER_CALL, BEFORE_COMPLETION, DURING_COMPLETION, STALL_AFTER_CALL,
        STALL_BEFORE_COMPLETION;

        static Point of(int code) {
            return values()[code];
        }
    }

    static final int STATUS_SIZE = 64;
    /** Byte 1: the parent sets it to 1 to let a stopped run go on. */
    static final int GO = 1;
    static final int COMPLETED = 8;
    static final int DUPLICATES = 16;
    static final int LEASES_LOST = 24;
    static final int IN_PROGRESS_ANSWERS = 32;
    static final int CALL_FAILURES = 40;
    /** 1 once every key was processed or found done (or the run lost its lease), just before a normal exit. */
    static final int FINISHED = 48;

    private LeasedCrashConsumer() {
    }

    /** The payment call failed (409 while another request with the key runs, or a transport error). */
    static final class CallFailed extends Exception {
        private static final long serialVersionUID = 1L;

        CallFailed(String message) {
            super(message);
        }
    }

    public static void main(String[] args) throws Exception {
        String claimsTable = args[0];
        URI payments = URI.create(args[1]);
        String statusFile = args[2];
        String faultKey = args[3];
        Point point = Point.valueOf(args[4]);
        Duration lease = Duration.ofMillis(Long.parseLong(args[5]));
        List<String> keys = List.of(args[6].split(","));

        try (RandomAccessFile raf = new RandomAccessFile(statusFile, "rw");
             FileChannel channel = raf.getChannel()) {
            MappedByteBuffer status = channel.map(FileChannel.MapMode.READ_WRITE, 0, STATUS_SIZE);
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(System.getenv("ONCELY_CHILD_URL"));
            config.setUsername(System.getenv("ONCELY_CHILD_USER"));
            config.setPassword(System.getenv("ONCELY_CHILD_PASSWORD"));
            config.setMaximumPoolSize(2);
            config.setConnectionTimeout(10_000);
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            try (HikariDataSource pool = new HikariDataSource(config)) {
                JdbcDedupStore store = JdbcDedupStore.builder(pool).table(claimsTable).build();
                LeasedHandler<String, String, CallFailed> handler = LeasedHandler.<String, String>builder(store)
                        .consumer("payments")
                        .key(k -> k)
                        .lease(lease)
                        .maxAttempts(100)
                        .waitForInProgress(Duration.ofSeconds(5))
                        .resultCodec(ResultCodec.utf8())
                        .handler((key, run) -> {
                            boolean faulty = key.equals(faultKey) && run.attempt() == 1;
                            if (faulty && point == Point.BEFORE_CALL) {
                                stop(status, point);
                            }
                            String charge = run.step("charge", ResultCodec.utf8(), () -> {
                                String c = charge(http, payments, key, run.downstreamKey("charge"),
                                        faulty && point == Point.DURING_CALL);
                                if (faulty && (point == Point.AFTER_CALL || point == Point.STALL_AFTER_CALL)) {
                                    stop(status, point);
                                }
                                return c;
                            });
                            if (faulty && (point == Point.BEFORE_COMPLETION || point == Point.DURING_COMPLETION
                                    || point == Point.STALL_BEFORE_COMPLETION)) {
                                stop(status, point); // the step is recorded; the completion comes next
                            }
                            return charge;
                        })
                        .build();
                for (String key : keys) {
                    if (!process(handler, key, status)) {
                        break; // this run lost its lease: another process owns the key now; stop, as a zombie should
                    }
                }
            }
            status.putLong(FINISHED, 1);
        }
    }

    /** Processes one key until it is done; false if this run's lease was taken over. */
    private static boolean process(LeasedHandler<String, String, CallFailed> handler, String key,
            MappedByteBuffer status) throws InterruptedException {
        while (true) {
            try {
                add(status, handler.process(key).isProcessed() ? COMPLETED : DUPLICATES);
                return true;
            } catch (LeaseLostException e) {
                add(status, LEASES_LOST);
                return false;
            } catch (KeyInProgressException e) {
                add(status, IN_PROGRESS_ANSWERS);
            } catch (CallFailed e) {
                add(status, CALL_FAILURES); // the lease was released: the next try takes the key again
                Thread.sleep(100);
            } catch (OncelyException e) {
                Thread.sleep(100);
            }
        }
    }

    private static String charge(HttpClient http, URI payments, String key, String idempotencyKey, boolean hold)
            throws CallFailed {
        HttpRequest.Builder request = HttpRequest.newBuilder(payments).timeout(Duration.ofSeconds(30))
                .header("Idempotency-Key", idempotencyKey)
                .POST(HttpRequest.BodyPublishers.ofString("event=" + key));
        if (hold) {
            request.header("X-Hold", "1");
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new CallFailed("charging " + key + " failed: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CallFailed("interrupted");
        }
        if (response.statusCode() != 200) {
            throw new CallFailed("charging " + key + " answered " + response.statusCode());
        }
        return response.body();
    }

    /** Records where the run is, then waits until the parent kills the process or lets it go on. */
    private static void stop(MappedByteBuffer status, Point point) {
        status.put(0, (byte) point.ordinal());
        while (status.get(GO) == 0) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void add(MappedByteBuffer status, int offset) {
        status.putLong(offset, status.getLong(offset) + 1);
    }
}
