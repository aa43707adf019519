package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.LLMEngine;
import dev.arbor.models.CausalLM;
import dev.arbor.models.synthetic.SyntheticModels;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 13, fault 5: a model that throws an Error fails the request in flight; the server then answers 503, never hangs. */
class EngineFailureTest {

    @Test
    void anErrorInTheModelMakesTheServerUnhealthyInsteadOfHanging() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CausalLM real = SyntheticModels.load("tiny");
        CausalLM model = dev.arbor.models.testing.FailingModels.throwingOnForward(real, failure::get);
        AsyncEngine engine = new AsyncEngine(new LLMEngine(model, LLMEngine.tokenizerFor(real.config()), TestServer.tinyConfig().build()));
        try (TestServer server = TestServer.around(engine, "synthetic:tiny")) {
            String body = "{\"model\":\"" + server.model() + "\",\"prompt\":\"hello\",\"max_tokens\":4}";
            assertEquals(200, server.post("/v1/completions", body).statusCode());
            assertEquals(200, server.send("GET", "/health").statusCode());

            failure.set(new OutOfMemoryError("Java heap space"));
            var inFlight = server.post("/v1/completions", body);
            assertEquals(500, inFlight.statusCode(), inFlight.body());
            assertTrue(inFlight.body().contains("OutOfMemoryError: Java heap space"), inFlight.body());

            var health = server.send("GET", "/health");
            assertEquals(503, health.statusCode());
            assertEquals("unhealthy", TestServer.json(health).path("status").asText());
            assertTrue(TestServer.json(health).path("error").asText().contains("OutOfMemoryError"), health.body());

            var later = server.post("/v1/completions", body);
            assertEquals(503, later.statusCode(), later.body());
            assertEquals("engine_unavailable", TestServer.json(later).path("error").path("code").asText());
            var stream = server.post("/v1/completions", body.replace("}", ",\"stream\":true}"));
            assertEquals(503, stream.statusCode(), stream.body());
        }
    }
}
