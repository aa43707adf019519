package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.StreamResponse;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.arbor.engine.EngineStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stream that waits for its first token (queued behind a running request: one sequence at a time
 * here) gets SSE keep-alive comments: the official client ignores them, and a client that hangs up
 * while queued is found by the next one and its request aborted before it ever runs.
 */
class KeepAliveTest {
    private static final Duration KEEP_ALIVE = Duration.ofMillis(20);
    private static final String MODEL = "synthetic:tiny";

    private static TestServer oneAtATime() throws Exception {
        return TestServer.startWith(MODEL, TestServer.tinyConfig().maxNumSeqs(1).enablePrefixCaching(false).build(),
                ServerConfig.local(ServedModel.nameFor(MODEL)).withKeepAlive(KEEP_ALIVE));
    }

    /**
     * A long non-streaming request that holds the only running slot for a while, returned once it
     * runs; the future completes with its JSON.
     */
    private static CompletableFuture<HttpResponse<String>> occupy(TestServer server, int tokens) throws InterruptedException {
        String body = "{\"model\":\"" + MODEL + "\",\"prompt\":\"hold the slot\",\"max_tokens\":" + tokens + ",\"ignore_eos\":true}";
        CompletableFuture<HttpResponse<String>> holder = CompletableFuture.supplyAsync(() -> {
            try {
                return server.post("/v1/completions", body);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        for (int i = 0; i < 2000 && server.engine.stats().running() == 0; i++) Thread.sleep(1);
        return holder;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void queuedStreamGetsKeepAlivesAndTheOfficialClientIgnoresThem() throws Exception {
        try (TestServer server = oneAtATime()) {
            CompletableFuture<HttpResponse<String>> holder = occupy(server, 600);
            // Raw view: comment lines arrive while queued, then every token as one data event.
            HttpResponse<java.io.InputStream> raw = server.http.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(server.server.baseUrl() + "/v1/completions"))
                    .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\":\"" + MODEL
                            + "\",\"prompt\":\"waiting\",\"max_tokens\":5,\"ignore_eos\":true,\"stream\":true}")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            int comments = 0, events = 0;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(raw.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith(":")) comments++;
                    if (line.startsWith("data: ") && !line.equals("data: [DONE]")) events++;
                }
            }
            assertTrue(comments > 0, "no keep-alive while queued behind a 600-token request");
            assertEquals(5, events);
            assertEquals(200, holder.get(60, TimeUnit.SECONDS).statusCode());

            // The official client, queued the same way, sees only the tokens.
            holder = occupy(server, 600);
            StringBuilder text = new StringBuilder();
            int chunks = 0;
            try (StreamResponse<Completion> stream = server.client(null).completions().createStreaming(
                    CompletionCreateParams.builder().model(server.model()).prompt("waiting").maxTokens(7)
                            .putAdditionalBodyProperty("ignore_eos", com.openai.core.JsonValue.from(true)).build())) {
                for (Completion c : stream.stream().toList()) {
                    chunks++;
                    text.append(c.choices().get(0).text());
                }
            }
            assertEquals(7, chunks);
            assertTrue(text.length() > 0);
            assertEquals(200, holder.get(60, TimeUnit.SECONDS).statusCode());
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void clientThatHangsUpWhileQueuedIsAbortedBeforeItRuns() throws Exception {
        try (TestServer server = oneAtATime()) {
            CompletableFuture<HttpResponse<String>> holder = occupy(server, 2000);
            byte[] body = ("{\"model\":\"" + MODEL + "\",\"prompt\":\"leaving\",\"max_tokens\":50,\"stream\":true}")
                    .getBytes(StandardCharsets.UTF_8);
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.server.port())) {
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                assertTrue(status != null && status.startsWith("HTTP/1.1 200"), "status line " + status);
                socket.setSoLinger(true, 0);   // hang up with a reset while still queued
            }
            double disconnects = 0;
            for (int i = 0; i < 500 && disconnects == 0; i++) {
                Thread.sleep(10);
                disconnects = SyntheticCompletionsTest.sample(server.send("GET", "/metrics").body(), "arbor_client_disconnects_total");
            }
            assertEquals(1, disconnects, "the hang-up was noticed while queued");

            JsonNode held = TestServer.json(holder.get(60, TimeUnit.SECONDS));
            EngineStats s = server.awaitIdle(Duration.ofSeconds(30));
            // Only the holder ever generated: the queued request was aborted before its first step.
            assertEquals(held.get("usage").get("completion_tokens").asLong(), s.generatedTokens(), s.toString());
            assertEquals(s.totalBlocks(), s.freeBlocks(), "every KV block released: " + s);
        }
    }
}
