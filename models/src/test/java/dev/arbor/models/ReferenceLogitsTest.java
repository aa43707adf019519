package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.testing.Fixtures;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The four fixture models against reference.json (float32 transformers / official Baichuan code):
 * logits at every prompt position, greedy continuation through the KV cache, chunked prefill and
 * mixed batches. Token ids come from the JSON, not a tokenizer.
 */
class ReferenceLogitsTest {
    private static final double TOL = 1e-3;
    private static final int BLOCK = 4;
    private static final Map<String, CausalLM> MODELS = new HashMap<>();
    private static final Map<String, JsonNode> REFERENCES = new HashMap<>();

    /** The device these tests run on ({@code ReferenceLogitsGpuTest} runs the same cases on CUDA). */
    String device() { return "cpu"; }

    /** How the model runs; on a GPU the float32 mode (fp32 KV and matmuls) stays within the reference's 1e-3. */
    BackendOptions backend() { return BackendOptions.float32(device()); }

    /** Whether logits and greedy tokens are held to the float32 reference (false: only the invariance tests run). */
    boolean matchesReference() { return true; }

    /** Largest difference allowed between a sequence's logits in and out of a batch, chunked or whole. */
    float invarianceTolerance() { return 1e-5f; }

    synchronized CausalLM model(String name) {
        return MODELS.computeIfAbsent(backend() + "/" + name, n -> ModelLoader.load(Fixtures.model(name).toString(), backend()));
    }

    static synchronized JsonNode reference(String name) {
        return REFERENCES.computeIfAbsent(name, n -> {
            try {
                return new ObjectMapper().readTree(Fixtures.model(n).resolve("reference.json").toFile());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** cases[] then shared_prefix.cases[] of a model's reference. */
    static List<JsonNode> allCases(String name) {
        JsonNode ref = reference(name);
        List<JsonNode> cases = new ArrayList<>();
        ref.path("cases").forEach(cases::add);
        ref.path("shared_prefix").path("cases").forEach(cases::add);
        return cases;
    }

    /** (model, case index) for each model; the count is fixed by the fixture format: 4 cases + 4 shared-prefix cases. */
    static Stream<Arguments> modelCases() {
        return Stream.of(Fixtures.MODELS).flatMap(m -> Stream.iterate(0, i -> i < 8, i -> i + 1).map(i -> Arguments.of(m, i)));
    }

    @AfterAll
    static void closeModels() {
        MODELS.values().forEach(CausalLM::close);
        MODELS.clear();
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    @ParameterizedTest(name = "{0} case {1}")
    @MethodSource("modelCases")
    void promptLogitsMatchReference(String name, int caseIndex) {
        org.junit.jupiter.api.Assumptions.assumeTrue(matchesReference(), "bf16 mode: held to argmax agreement in CudaBackendGpuTest");
        List<JsonNode> cases = allCases(name);
        assertEquals(8, cases.size(), "fixture format: 4 cases + 4 shared-prefix cases");
        JsonNode c = cases.get(caseIndex);
        int[] ids = ints(c.get("input_ids"));
        int[] probeIds = ints(reference(name).get("probe_ids"));
        CausalLM model = model(name);
        float[][] logits = new PagedRunner(model, 256, BLOCK).prefill(ids, ids.length);
        String label = name + "/" + c.get("name").asText();
        for (int p = 0; p < ids.length; p++) {
            assertEquals(model.config().vocabSize(), logits[p].length);
            assertEquals(c.get("argmax").get(p).asInt(), PagedRunner.argmax(logits[p]), label + " argmax at position " + p);
            assertEquals(c.get("logsumexp").get(p).asDouble(), PagedRunner.logSumExp(logits[p]), TOL, label + " logsumexp at " + p);
            JsonNode probe = c.get("probe").get(p);
            for (int i = 0; i < probeIds.length; i++) {
                assertEquals(probe.get(i).asDouble(), logits[p][probeIds[i]], TOL, label + " probe " + probeIds[i] + " at " + p);
            }
        }
        if (c.has("last_logits")) {
            JsonNode last = c.get("last_logits");
            assertEquals(model.config().vocabSize(), last.size());
            float[] ours = logits[ids.length - 1];
            for (int v = 0; v < last.size(); v++) assertEquals(last.get(v).asDouble(), ours[v], TOL, label + " last_logits[" + v + "]");
        }
    }

    @ParameterizedTest(name = "{0} case {1}")
    @MethodSource("modelCases")
    void greedyDecodeThroughCacheMatchesReference(String name, int caseIndex) {
        org.junit.jupiter.api.Assumptions.assumeTrue(matchesReference(), "bf16 mode: held to argmax agreement in CudaBackendGpuTest");
        JsonNode c = allCases(name).get(caseIndex);
        int[] expected = ints(c.get("greedy_ids"));
        PagedRunner runner = new PagedRunner(model(name), 256, BLOCK);
        PagedRunner.Sequence seq = runner.newSequence();
        int[] got = new int[expected.length];
        int next = PagedRunner.argmax(runner.step(List.of(seq), List.of(ints(c.get("input_ids"))), false)[0]);
        for (int i = 0; i < expected.length; i++) {
            got[i] = next;
            if (i + 1 < expected.length) next = PagedRunner.argmax(runner.step(List.of(seq), List.of(new int[] {next}), false)[0]);
        }
        assertArrayEquals(expected, got, name + "/" + c.get("name").asText() + " greedy continuation");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"})
    void chunkedPrefillEqualsOneChunk(String name) {
        CausalLM model = model(name);
        for (JsonNode c : allCases(name)) {
            int[] ids = ints(c.get("input_ids"));
            float[][] whole = new PagedRunner(model, 256, BLOCK).prefill(ids, ids.length);
            for (int chunk : new int[] {1, 3, 7}) {
                float[][] chunked = new PagedRunner(model, 256, BLOCK).prefill(ids, chunk);
                for (int p = 0; p < ids.length; p++) {
                    assertArrayEquals(whole[p], chunked[p], invarianceTolerance(), name + " chunk " + chunk + " position " + p);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"})
    void mixedBatchEqualsEachSequenceAlone(String name) {
        CausalLM model = model(name);
        List<JsonNode> cases = allCases(name);
        int[] a = ints(cases.get(0).get("input_ids")), b = ints(cases.get(1).get("input_ids")), c = ints(cases.get(2).get("input_ids"));
        int aNext = cases.get(0).get("greedy_ids").get(0).asInt();
        int bSplit = Math.min(5, b.length - 1);

        // Alone: a's prompt then one decode token; b; c.
        PagedRunner solo = new PagedRunner(model, 512, BLOCK);
        PagedRunner.Sequence sa = solo.newSequence();
        float[][] aPrompt = solo.step(List.of(sa), List.of(a), true);
        float[] aDecode = solo.step(List.of(sa), List.of(new int[] {aNext}), true)[0];
        float[][] bAlone = solo.prefill(b, b.length);
        float[][] cAlone = solo.prefill(c, c.length);

        // Together: step 1 = a's prompt + b's first part; step 2 = a's decode + b's rest + c's prompt.
        PagedRunner batch = new PagedRunner(model, 512, BLOCK);
        PagedRunner.Sequence ba = batch.newSequence(), bb = batch.newSequence(), bc = batch.newSequence();
        float[][] step1 = batch.step(List.of(ba, bb), List.of(a, java.util.Arrays.copyOf(b, bSplit)), true);
        float[][] step2 = batch.step(List.of(ba, bb, bc),
                List.of(new int[] {aNext}, java.util.Arrays.copyOfRange(b, bSplit, b.length), c), true);

        for (int p = 0; p < a.length; p++) assertArrayEquals(aPrompt[p], step1[p], invarianceTolerance(), name + " a at " + p);
        for (int p = 0; p < bSplit; p++) assertArrayEquals(bAlone[p], step1[a.length + p], invarianceTolerance(), name + " b at " + p);
        assertArrayEquals(aDecode, step2[0], invarianceTolerance(), name + " a decode");
        for (int p = bSplit; p < b.length; p++) assertArrayEquals(bAlone[p], step2[1 + p - bSplit], invarianceTolerance(), name + " b at " + p);
        int cOff = 1 + b.length - bSplit;
        for (int p = 0; p < c.length; p++) assertArrayEquals(cAlone[p], step2[cOff + p], invarianceTolerance(), name + " c at " + p);
        assertTrue(step2.length == cOff + c.length);
    }
}
