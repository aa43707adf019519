package dev.arbor.engine;

import dev.arbor.engine.cache.PrefixInfo;
import dev.arbor.engine.cache.PrefixScheduling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * Offline generation, as vLLM's {@code LLM}: give it all prompts, get all outputs back in input
 * order. The prompts run together under continuous batching; a request that fails validation gets
 * an output carrying its error while the others complete.
 */
public final class LLM implements AutoCloseable {
    private final LLMEngine engine;

    public LLM(String modelSpec) { this(modelSpec, EngineConfig.defaults()); }

    public LLM(String modelSpec, EngineConfig config) { this(LLMEngine.create(modelSpec, config)); }

    public LLM(LLMEngine engine) { this.engine = engine; }

    public LLMEngine engine() { return engine; }

    public List<RequestOutput> generate(List<String> prompts, SamplingParams params) {
        return generatePrompts(prompts.stream().map(Prompt::of).toList(), params, null, null);
    }

    /** The seed's API: the first {@code prefixPos[i]} tokens of prompt i are a prefix to keep (pinned). */
    public List<RequestOutput> generate(List<String> prompts, SamplingParams params, int[] prefixPos) {
        return generatePrompts(prompts.stream().map(Prompt::of).toList(), params, prefixPos, null);
    }

    public List<RequestOutput> generateTokens(List<int[]> prompts, SamplingParams params) {
        return generatePrompts(prompts.stream().map(Prompt::ofTokens).toList(), params, null, null);
    }

    /**
     * All prompts in one batch.
     *
     * @param prefixPos per prompt, tokens to pin as an explicit prefix (null = none)
     * @param onStep    called with every intermediate output (progress, streaming); may be null
     */
    public List<RequestOutput> generatePrompts(List<Prompt> prompts, SamplingParams params, int[] prefixPos,
                                               Consumer<RequestOutput> onStep) {
        RequestOutput[] results = new RequestOutput[prompts.size()];
        Map<String, Integer> slot = new HashMap<>();
        for (int i = 0; i < prompts.size(); i++) {
            String id = engine.nextRequestId();
            try {
                engine.addRequest(id, prompts.get(i), params, null, prefixPos == null ? 0 : prefixPos[i]);
                slot.put(id, i);
            } catch (IllegalArgumentException e) {
                // The refused prompt's ids as the engine saw them (a text prompt's encoding), so a caller can see why.
                Prompt p = prompts.get(i);
                int[] ids = p.isText() ? engine.tokenizer().encode(p.text()) : p.tokenIds();
                results[i] = RequestOutput.failed(id, p.text(), ids, e.getMessage());
            }
        }
        runUntilDone(slot, results, onStep);
        return Arrays.asList(results);
    }

    /**
     * The seed's PrefixGroup strategy for a batch known in advance: requests are grouped by their
     * explicit prefix, groups are admitted in waves (largest first while their estimated blocks fit),
     * each group's prefix is computed once, and deleted from the cache when its group is done.
     */
    public List<RequestOutput> generateGrouped(List<int[]> prompts, SamplingParams params, int[] prefixPos,
                                               Consumer<RequestOutput> onStep) {
        int maxOut = params.maxTokens() == null ? 0 : params.maxTokens();
        EngineStats st = engine.stats();
        List<PrefixScheduling.PlanRequest> plan = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) plan.add(new PrefixScheduling.PlanRequest(prompts.get(i), prefixPos[i], maxOut));
        List<List<PrefixScheduling.PrefixGroup>> waves = PrefixScheduling.planPrefixGroups(plan, st.blockSize(), st.freeBlocks());
        RequestOutput[] results = new RequestOutput[prompts.size()];
        for (List<PrefixScheduling.PrefixGroup> wave : waves) {
            Map<String, Integer> slot = new HashMap<>();
            for (PrefixScheduling.PrefixGroup g : wave) {
                for (int i : g.requests()) {
                    String id = engine.nextRequestId();
                    engine.addRequest(id, Prompt.ofTokens(prompts.get(i)), params, null, prefixPos[i]);
                    slot.put(id, i);
                }
            }
            runUntilDone(slot, results, onStep);
            for (PrefixScheduling.PrefixGroup g : wave) {
                if (g.prefixTokens().length > 0) engine.deletePrefix(Prompt.ofTokens(g.prefixTokens()), null);
            }
        }
        return Arrays.asList(results);
    }

    private void runUntilDone(Map<String, Integer> slot, RequestOutput[] results, Consumer<RequestOutput> onStep) {
        int[] left = {slot.size()};
        // outputs as soon as the engine makes them (while the device runs the next step): onStep sees them then
        Consumer<RequestOutput> collect = o -> {
            Integer i = slot.get(o.requestId());
            if (i != null && o.finished()) {
                results[i] = o;
                left[0]--;
            }
            if (onStep != null) onStep.accept(o);
        };
        while (left[0] > 0) engine.step(collect);
    }

    /** Streams one request: each element carries the text and tokens new since the previous one. */
    public Iterator<RequestOutput> stream(Prompt prompt, SamplingParams params) {
        String id = engine.nextRequestId();
        engine.addRequest(id, prompt, params, null, 0);
        return new Iterator<>() {
            private final List<RequestOutput> buffer = new ArrayList<>();
            private boolean done;

            @Override
            public boolean hasNext() {
                while (buffer.isEmpty() && !done) {
                    for (RequestOutput o : engine.step()) if (o.requestId().equals(id)) buffer.add(o);
                    if (!engine.hasUnfinished() && buffer.isEmpty()) done = true;
                }
                return !buffer.isEmpty();
            }

            @Override
            public RequestOutput next() {
                if (!hasNext()) throw new NoSuchElementException();
                RequestOutput o = buffer.removeFirst();
                if (o.finished()) done = true;
                return o;
            }
        };
    }

    public PrefixInfo registerPrefix(String text) { return engine.registerPrefix(Prompt.of(text), null); }

    public PrefixInfo registerPrefix(int[] tokens) { return engine.registerPrefix(Prompt.ofTokens(tokens), null); }

    public boolean deletePrefix(String text) { return engine.deletePrefix(Prompt.of(text), null); }

    public boolean deletePrefix(int[] tokens) { return engine.deletePrefix(Prompt.ofTokens(tokens), null); }

    public boolean deletePrefix(long prefixId) { return engine.deletePrefix(prefixId); }

    public List<PrefixInfo> listPrefixes() { return engine.listPrefixes(); }

    public EngineStats stats() { return engine.stats(); }

    @Override
    public void close() { engine.close(); }
}
