package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 13, fault 9: prefix endpoints are scoped by namespace; API keys map to tenants whose salt the server sets. */
class TenancyTest {
    static final String PREFIX = "You are a helpful assistant. Answer briefly and precisely, in English.";

    private static String register(TestServer s, String salt, String... headers) throws Exception {
        String body = "{\"prompt\":" + Json.MAPPER.writeValueAsString(PREFIX) + (salt == null ? "" : ",\"cache_salt\":\"" + salt + "\"") + "}";
        HttpResponse<String> r = s.post("/v1/prefixes", body, headers);
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r).get("id").asText();
    }

    private static List<String> ids(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r).get("data").findValuesAsText("id");
    }

    @Test
    void saltsScopeListRegisterAndDelete() throws Exception {
        try (TestServer s = TestServer.start("synthetic:tiny", TestServer.tinyConfig().build(), null)) {
            String a = register(s, "tenant-a");
            String b = register(s, "tenant-b");
            assertNotEquals(a, b, "same tokens, other namespace: another prefix");
            // GET lists one namespace only, and says which.
            assertEquals(List.of(a), ids(s.send("GET", "/v1/prefixes?cache_salt=tenant-a")));
            assertEquals(List.of(b), ids(s.send("GET", "/v1/prefixes?cache_salt=tenant-b")));
            assertEquals(List.of(), ids(s.send("GET", "/v1/prefixes")), "the default namespace has none");
            JsonNode listed = TestServer.json(s.send("GET", "/v1/prefixes?cache_salt=tenant-a")).get("data").get(0);
            assertEquals("tenant-a", listed.get("cache_salt").asText());
            // DELETE with another namespace's salt (or none) is a 404 and deletes nothing.
            assertEquals(404, s.send("DELETE", "/v1/prefixes/" + a + "?cache_salt=tenant-b").statusCode());
            assertEquals(404, s.send("DELETE", "/v1/prefixes/" + a).statusCode());
            assertEquals(List.of(a), ids(s.send("GET", "/v1/prefixes?cache_salt=tenant-a")));
            assertEquals(200, s.send("DELETE", "/v1/prefixes/" + a + "?cache_salt=tenant-a").statusCode());
            assertEquals(List.of(), ids(s.send("GET", "/v1/prefixes?cache_salt=tenant-a")));
            assertEquals(List.of(b), ids(s.send("GET", "/v1/prefixes?cache_salt=tenant-b")));
            // URL-encoded salts work.
            String odd = register(s, "a b&c");
            assertEquals(List.of(odd), ids(s.send("GET", "/v1/prefixes?cache_salt=a%20b%26c")));
        }
    }

    @Test
    void prefixIdsAreNotGuessable() throws Exception {
        try (TestServer s = TestServer.start("synthetic:tiny", TestServer.tinyConfig().build(), null)) {
            Set<Long> numbers = new HashSet<>();
            for (int i = 0; i < 6; i++) {
                String id = register(s, "salt-" + i);
                assertTrue(id.startsWith("prefix-"), id);
                numbers.add(Long.parseLong(id.substring("prefix-".length())));
            }
            assertEquals(6, numbers.size());
            for (long n : numbers) assertTrue(n > 1_000_000L, "random 63-bit ids, not 1, 2, 3: " + numbers);
            assertFalse(numbers.contains(1L) || numbers.contains(2L));
        }
    }

    @Test
    void apiKeysMapToTenantsWhoseNamespacesAreApart(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path keys = dir.resolve("keys");
        Files.writeString(keys, "# tenant key\nalice sk-alice-1\nalice sk-alice-2\nbob sk-bob\n");
        var config = ServerConfig.local("synthetic:tiny").withApiKeys(ApiKeys.of(List.of("sk-carol")).withFile(keys));
        String alice1 = "Bearer sk-alice-1", alice2 = "Bearer sk-alice-2", bob = "Bearer sk-bob", carol = "Bearer sk-carol";
        try (TestServer s = TestServer.startWith("synthetic:tiny", TestServer.tinyConfig().build(), config)) {
            assertEquals(401, s.send("GET", "/v1/prefixes").statusCode());
            assertEquals(401, s.send("GET", "/v1/prefixes", "Authorization", "Bearer nope").statusCode());
            String a = register(s, null, "Authorization", alice1);
            // Bob sends no salt, Alice's salt, or anything: he never sees or deletes Alice's prefix.
            assertEquals(List.of(), ids(s.send("GET", "/v1/prefixes", "Authorization", bob)));
            assertEquals(404, s.send("DELETE", "/v1/prefixes/" + a, "Authorization", bob).statusCode());
            assertEquals(404, s.send("DELETE", "/v1/prefixes/" + a, "Authorization", carol).statusCode());
            // Alice's second key is the same tenant.
            assertEquals(List.of(a), ids(s.send("GET", "/v1/prefixes", "Authorization", alice2)));
            // A client salt subdivides the tenant's namespace; the response shows the client's salt only.
            String sub = register(s, "team-1", "Authorization", alice1);
            JsonNode listed = TestServer.json(s.send("GET", "/v1/prefixes?cache_salt=team-1", "Authorization", alice2)).get("data");
            assertEquals(1, listed.size());
            assertEquals(sub, listed.get(0).get("id").asText());
            assertEquals("team-1", listed.get(0).get("cache_salt").asText());
            assertEquals(List.of(), ids(s.send("GET", "/v1/prefixes?cache_salt=team-1", "Authorization", bob)));
            // Cached blocks are not shared across tenants either: Bob's identical prompt is a miss.
            String body = "{\"model\":\"" + s.model() + "\",\"prompt\":" + Json.MAPPER.writeValueAsString(PREFIX + " Q?") + ",\"max_tokens\":1}";
            JsonNode mine = TestServer.json(s.post("/v1/completions", body, "Authorization", alice2));
            assertTrue(mine.path("usage").path("prompt_tokens_details").path("cached_tokens").asInt() > 0, mine.toString());
            JsonNode his = TestServer.json(s.post("/v1/completions", body, "Authorization", bob));
            assertEquals(0, his.path("usage").path("prompt_tokens_details").path("cached_tokens").asInt(), his.toString());
            // A salt cannot smuggle in a tenant's namespace.
            HttpResponse<String> r = s.post("/v1/completions", body.replace("}", ",\"cache_salt\":\"\\u0000alice\\u0000\"}"), "Authorization", bob);
            assertEquals(400, r.statusCode(), r.body());
            assertEquals(200, s.send("DELETE", "/v1/prefixes/" + a, "Authorization", alice2).statusCode());
        }
    }

    /**
     * Concurrent requests of two tenants never run in each other's namespace. (The tenant once lived in an
     * HttpExchange attribute, which the JDK's server shares between exchanges through the HttpContext.)
     */
    @Test
    void concurrentTenantsStayInTheirOwnNamespaces() throws Exception {
        var config = ServerConfig.local("synthetic:tiny").withApiKeys(ApiKeys.of(List.of("sk-one", "sk-two")));
        try (TestServer s = TestServer.startWith("synthetic:tiny", TestServer.tinyConfig().numBlocks(4096).build(), config);
             var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<String>> registered = new java.util.ArrayList<>();
            for (int i = 0; i < 120; i++) {
                String key = i % 2 == 0 ? "Bearer sk-one" : "Bearer sk-two";
                String body = "{\"prompt\":\"" + "tenant prompt number " + i + " ".repeat(20 * (i % 7)) + "\"}";
                registered.add(pool.submit(() -> {
                    HttpResponse<String> r = s.post("/v1/prefixes", body, "Authorization", key);
                    assertEquals(200, r.statusCode(), r.body());
                    return TestServer.json(r).get("id").asText();
                }));
            }
            Set<String> one = new HashSet<>(), two = new HashSet<>();
            for (int i = 0; i < registered.size(); i++) (i % 2 == 0 ? one : two).add(registered.get(i).get());
            assertEquals(one, new HashSet<>(ids(s.send("GET", "/v1/prefixes", "Authorization", "Bearer sk-one"))));
            assertEquals(two, new HashSet<>(ids(s.send("GET", "/v1/prefixes", "Authorization", "Bearer sk-two"))));
        }
    }
}
