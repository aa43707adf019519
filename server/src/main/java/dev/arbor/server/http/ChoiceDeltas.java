package dev.arbor.server.http;

import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.FinishReason;
import dev.arbor.engine.Logprob;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns engine updates into per-choice stream deltas. An update carries all n completions of a
 * request, most of them unchanged, and a finished completion keeps appearing until its siblings
 * finish; this keeps only what is new and reports each choice's finish exactly once.
 * Choice numbering is OpenAI's: prompt * n + completion index.
 */
final class ChoiceDeltas {
    /**
     * @param textOffset characters of this choice streamed before this delta (for text_offset)
     * @param logprobs   the new tokens' logprobs, or null when not requested
     * @param finish     set on the choice's last delta
     */
    record Delta(int choice, String text, int[] tokenIds, List<Logprob> logprobs, int textOffset,
                 FinishReason finish, Object stopReason) {}

    private final int n;
    private final boolean[] finished;
    private final int[] emittedChars;

    ChoiceDeltas(int prompts, int n) {
        this.n = n;
        this.finished = new boolean[prompts * n];
        this.emittedChars = new int[prompts * n];
    }

    List<Delta> of(GenerationJob.Update u) {
        List<Delta> out = new ArrayList<>(1);
        for (CompletionOutput c : u.output().outputs()) {
            int choice = u.prompt() * n + c.index();
            if (finished[choice]) continue;
            int[] ids = c.newTokenIds();
            if (c.textDelta().isEmpty() && ids.length == 0 && c.finishReason() == null) continue;
            List<Logprob> logprobs = null;
            if (c.logprobs() != null) {
                int all = c.logprobs().size();
                logprobs = c.logprobs().subList(Math.max(0, all - ids.length), all);
            }
            out.add(new Delta(choice, c.textDelta(), ids, logprobs, emittedChars[choice], c.finishReason(), c.stopReason()));
            emittedChars[choice] += c.textDelta().length();
            if (c.finishReason() != null) finished[choice] = true;
        }
        return out;
    }
}
