package dev.oncely.http;

import jakarta.servlet.Filter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/** An embedded Tomcat 11 on a free port with the filter on every path and {@link EffectsServlet} behind it. */
final class TestServer implements AutoCloseable {

    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private final Tomcat tomcat;
    private final int port;

    TestServer(Filter filter) {
        this(filter, new EffectsServlet());
    }

    TestServer(Filter filter, jakarta.servlet.Servlet servlet) {
        try {
            Path base = Files.createTempDirectory("oncely-http-tomcat");
            tomcat = new Tomcat();
            tomcat.setBaseDir(base.toString());
            tomcat.setPort(0);
            Context context = tomcat.addContext("", base.toString());
            Tomcat.addServlet(context, "effects", servlet);
            context.addServletMappingDecoded("/", "effects");
            // In front of the idempotency filter, as a CORS filter would be: its header must survive everything.
            FilterDef upstream = new FilterDef();
            upstream.setFilterName("upstream");
            upstream.setFilter((jakarta.servlet.Filter) (request, response, chain) -> {
                ((jakarta.servlet.http.HttpServletResponse) response).setHeader("X-Upstream", "kept");
                chain.doFilter(request, response);
            });
            context.addFilterDef(upstream);
            FilterMap upstreamMap = new FilterMap();
            upstreamMap.setFilterName("upstream");
            upstreamMap.addURLPattern("/*");
            context.addFilterMap(upstreamMap);
            FilterDef def = new FilterDef();
            def.setFilterName("idempotency");
            def.setFilter(filter);
            context.addFilterDef(def);
            FilterMap map = new FilterMap();
            map.setFilterName("idempotency");
            map.addURLPattern("/*");
            context.addFilterMap(map);
            tomcat.getConnector();
            tomcat.start();
            port = tomcat.getConnector().getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (LifecycleException e) {
            throw new IllegalStateException(e);
        }
    }

    HttpRequest.Builder post(String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    /** A POST from client "client-a" (its X-Api-Key) that carries the given Idempotency-Key. */
    HttpRequest.Builder postWithKey(String path, String body, String key) {
        return post(path, body).header("Idempotency-Key", key).header("X-Api-Key", "client-a");
    }

    HttpRequest.Builder get(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60));
    }

    static HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            tomcat.stop();
            tomcat.destroy();
        } catch (LifecycleException e) {
            throw new IllegalStateException(e);
        }
    }
}
