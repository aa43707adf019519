package dev.arbor.engine;

import java.util.List;

/**
 * The state of one request after an engine step: its prompt, its n completions, and how much of
 * the prompt came from the prefix cache.
 *
 * @param requestId       caller's id
 * @param prompt          prompt text (null for token-id prompts)
 * @param promptTokenIds  the prompt as the model saw it
 * @param outputs         n completions, ordered by index
 * @param finished        all completions have ended
 * @param cachedTokens    prompt tokens served from the prefix cache at admission
 * @param promptLogprobs  per prompt position (null at position 0), when requested; else null
 * @param error           why the request failed, when it did; else null
 */
public record RequestOutput(String requestId, String prompt, int[] promptTokenIds, List<CompletionOutput> outputs,
                            boolean finished, int cachedTokens, List<Logprob> promptLogprobs, String error) {

    public static RequestOutput failed(String requestId, String prompt, int[] promptTokenIds, String error) {
        return new RequestOutput(requestId, prompt, promptTokenIds == null ? new int[0] : promptTokenIds,
                List.of(new CompletionOutput(0, "", new int[0], "", new int[0], null, FinishReason.ERROR, null)),
                true, 0, null, error);
    }

    public boolean failed() { return error != null; }

    /** The first (often only) completion. */
    public CompletionOutput output() { return outputs.getFirst(); }
}
