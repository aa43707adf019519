package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arbor.engine.EngineStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 64 concurrent streaming clients on loopback, every tenth hanging up after a few events. Those
 * that stay get a complete, error-free stream; those that leave have their requests aborted; at
 * the end every KV block is back on the free list (prefix caching is off here, so nothing may stay).
 */
class StreamingLoadTest {
    static final int CLIENTS = 64;

    /** What one client saw. */
    record Outcome(int index, boolean leftEarly, int events, String finishReason, boolean done, String error) {}

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void concurrentStreamsWithEarlyDisconnectsLeaveThePoolFull() throws Exception {
        try (TestServer server = TestServer.start("synthetic:tiny",
                TestServer.tinyConfig().numBlocks(1024).enablePrefixCaching(false).build(), null)) {
            List<Future<Outcome>> futures = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < CLIENTS; i++) {
                    int index = i;
                    futures.add(pool.submit(() -> runClient(server, index)));
                }
            }
            int leavers = 0;
            long stayersTokens = 0;
            for (Future<Outcome> f : futures) {
                Outcome o = f.get();
                assertEquals(null, o.error(), "client " + o.index() + " saw an error");
                if (o.leftEarly()) {
                    leavers++;
                    continue;
                }
                stayersTokens += maxTokens(o.index());
                assertTrue(o.done(), "client " + o.index() + " got no [DONE]: " + o);
                assertEquals("length", o.finishReason(), "client " + o.index());
                assertEquals(maxTokens(o.index()), o.events(), "one event per token for client " + o.index());
            }
            assertEquals(7, leavers);

            EngineStats s = server.awaitIdle(Duration.ofSeconds(60));
            assertEquals(0, s.running(), s.toString());
            assertEquals(0, s.waiting(), s.toString());
            assertEquals(s.totalBlocks(), s.freeBlocks(), "every KV block released: " + s);
            // Aborted early, the leavers generated far fewer than the 2000 tokens each asked for.
            assertTrue(s.generatedTokens() < stayersTokens + leavers * 1000L, "generated " + s.generatedTokens());
            String metrics = server.send("GET", "/metrics").body();
            assertEquals(leavers, SyntheticCompletionsTest.sample(metrics, "arbor_client_disconnects_total"),
                    "each hang-up was noticed and its request aborted");
        }
    }

    /** Leavers ask for far more tokens than they read, so only an abort can end their requests early. */
    private static int maxTokens(int index) {
        return leaves(index) ? 2000 : 8 + index % 24;
    }

    private static boolean leaves(int index) {
        return index % 10 == 0;
    }

    private static Outcome runClient(TestServer server, int index) {
        return leaves(index) ? hangUp(server, index) : streamToTheEnd(server, index);
    }

    private static String body(int index) {
        return "{\"model\":\"synthetic:tiny\",\"prompt\":\"client " + index + " says hello\",\"stream\":true,"
                + "\"ignore_eos\":true,\"temperature\":0.7,\"seed\":" + index + ",\"max_tokens\":" + maxTokens(index) + "}";
    }

    /**
     * A client that reads three events and hangs up abruptly (a reset, as a killed process or a
     * dropped network leaves it), over a raw socket so the hang-up happens exactly then.
     */
    private static Outcome hangUp(TestServer server, int index) {
        byte[] body = body(index).getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.server.port())) {
            socket.setSoTimeout(60_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String status = reader.readLine();
            if (status == null || !status.startsWith("HTTP/1.1 200")) return new Outcome(index, true, 0, null, false, "status line " + status);
            int events = 0;
            String line;
            while (events < 3 && (line = reader.readLine()) != null) {
                if (line.startsWith("data: ")) events++;   // chunk-size lines in between are skipped
            }
            socket.setSoLinger(true, 0);   // close with RST
            return new Outcome(index, true, events, null, false, events == 3 ? null : "stream ended after " + events + " events");
        } catch (Exception e) {
            return new Outcome(index, true, 0, null, false, e.toString());
        }
    }

    private static Outcome streamToTheEnd(TestServer server, int index) {
        String body = body(index);
        HttpRequest request = HttpRequest.newBuilder(URI.create(server.server.baseUrl() + "/v1/completions"))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        int events = 0;
        String finish = null;
        try {
            HttpResponse<InputStream> response = server.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            if (response.statusCode() != 200) {
                return new Outcome(index, false, 0, null, false, "status " + response.statusCode() + ": "
                        + new String(response.body().readAllBytes(), StandardCharsets.UTF_8));
            }
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    if (!line.startsWith("data: ")) continue;
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) return new Outcome(index, false, events, finish, true, null);
                    JsonNode chunk = Json.MAPPER.readTree(data);
                    if (chunk.has("error")) return new Outcome(index, false, events, finish, false, chunk.toString());
                    events++;
                    JsonNode fr = chunk.get("choices").get(0).get("finish_reason");
                    if (fr != null && !fr.isNull()) finish = fr.asText();
                }
            }
            return new Outcome(index, false, events, finish, false, "stream ended without [DONE]");
        } catch (Exception e) {
            return new Outcome(index, false, events, finish, false, e.toString());
        }
    }
}
