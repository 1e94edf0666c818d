package dev.oncely.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A TCP proxy on 127.0.0.1 between a pool and PostgreSQL that injects faults on command: it loses the reply to a
 * COMMIT, cuts every connection, or refuses new ones for a while. Plain sockets, two daemon threads per
 * connection, at most {@link #MAX_CONNECTIONS} connections at once.
 *
 * <p>COMMIT is recognised in the client's bytes: pgJDBC sends {@code Connection.commit()} as a Parse or Query
 * message whose text is {@code COMMIT}. The URL must disable SSL so the bytes are readable.
 */
final class FaultProxy implements AutoCloseable {

    static final int MAX_CONNECTIONS = 64;
    private static final boolean DEBUG = Boolean.getBoolean("oncely.proxy.debug");
    private static final java.util.regex.Pattern PARSE_COMMIT =
            java.util.regex.Pattern.compile("P[\\s\\S]{4}([^\\x00]*)\\x00COMMIT\\x00");

    /** What happens to the next COMMIT a client sends. */
    enum CommitFault {
        /** Forward it to the server, then cut the connection before the reply: the commit (almost surely) happens. */
        FORWARD_THEN_CUT,
        /** Cut the connection without forwarding it: the commit never happens. Same view from the client. */
        DROP_AND_CUT
    }

    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final AtomicReference<CommitFault> armed = new AtomicReference<>();
    private final AtomicInteger commitsCut = new AtomicInteger();
    private final AtomicInteger refused = new AtomicInteger();
    private volatile long refuseUntilNanos;
    private volatile boolean closed;
    private final Thread acceptor;

    FaultProxy(String targetHost, int targetPort) throws IOException {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        this.acceptor = new Thread(this::acceptLoop, "fault-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    /** The next COMMIT any client sends gets this fault (once). */
    void armCommitFault(CommitFault fault) {
        armed.set(fault);
    }

    boolean commitFaultPending() {
        return armed.get() != null;
    }

    int commitsCut() {
        return commitsCut.get();
    }

    int refusedConnections() {
        return refused.get();
    }

    int openConnections() {
        return links.size();
    }

    /** Cuts every open connection, as a database restart does. Returns how many were cut. */
    int cutAll() {
        int n = 0;
        for (Link link : links) {
            link.cut();
            n++;
        }
        return n;
    }

    /** Cuts every open connection and accepts-then-closes new ones for the given time: the database is "down". */
    void outage(long millis) {
        refuseUntilNanos = System.nanoTime() + millis * 1_000_000L;
        cutAll();
    }

    boolean down() {
        return System.nanoTime() - refuseUntilNanos < 0;
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        cutAll();
        try {
            acceptor.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            if (down() || links.size() >= MAX_CONNECTIONS) {
                refused.incrementAndGet();
                closeQuietly(client);
                continue;
            }
            try {
                Socket upstream = new Socket();
                upstream.connect(new InetSocketAddress(targetHost, targetPort), 2_000);
                Link link = new Link(client, upstream);
                links.add(link);
                link.start();
            } catch (IOException e) {
                closeQuietly(client);
            }
        }
    }

    private final class Link {
        final Socket client;
        final Socket upstream;
        /** The server-side statement name pgJDBC gave COMMIT on this connection (it prepares it once, as S_n). */
        volatile String commitStatement;
        /** Set when a COMMIT's reply must be lost: nothing more goes from the server to the client. */
        volatile boolean muted;

        Link(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void start() {
            Thread up = new Thread(() -> pump(client, upstream, true), "fault-proxy-c2s");
            Thread down = new Thread(() -> pump(upstream, client, false), "fault-proxy-s2c");
            up.setDaemon(true);
            down.setDaemon(true);
            up.start();
            down.start();
        }

        void pump(Socket from, Socket to, boolean clientToServer) {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream()) {
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buffer)) != -1) {
                    if (!clientToServer && muted) {
                        return;
                    }
                    if (DEBUG && clientToServer) {
                        System.err.println("c2s " + new String(buffer, 0, n, StandardCharsets.US_ASCII)
                                .replaceAll("[^ -~]", "."));
                    }
                    if (clientToServer && isCommit(buffer, n)) {
                        CommitFault fault = armed.getAndSet(null);
                        if (fault != null) {
                            muted = true;
                            if (fault == CommitFault.FORWARD_THEN_CUT) {
                                out.write(buffer, 0, n);
                                out.flush();
                                // Let the server read the COMMIT before it sees the connection close.
                                sleep(200);
                            }
                            commitsCut.incrementAndGet();
                            cut();
                            return;
                        }
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (SocketException e) {
                // cut
            } catch (IOException e) {
                // the other side went away
            } finally {
                cut();
            }
        }

        /** A Query or Parse whose text is COMMIT, or a Bind of the statement prepared as COMMIT. */
        boolean isCommit(byte[] buffer, int n) {
            String text = new String(buffer, 0, n, StandardCharsets.ISO_8859_1);
            java.util.regex.Matcher parse = PARSE_COMMIT.matcher(text);
            if (parse.find()) {
                if (!parse.group(1).isEmpty()) {
                    commitStatement = parse.group(1);
                }
                return true;
            }
            if (text.contains("Q") && text.contains("COMMIT\0")) {
                return true;
            }
            String name = commitStatement;
            return name != null && text.contains("\0" + name + "\0") && text.indexOf('B') >= 0;
        }

        void cut() {
            links.remove(this);
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
