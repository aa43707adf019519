package dev.arbor.engine.core;

import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.FinishReason;
import dev.arbor.engine.Logprob;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.tokenizer.IncrementalDetokenizer;
import dev.arbor.tokenizer.Tokenizer;
import it.unimi.dsi.fastutil.ints.IntArrayList;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A request inside the engine: its n sequences and, per sequence, the text produced so far.
 * Stop strings are searched in the text as it grows, so a stop split over several tokens is
 * found; while a sequence runs, the last (longest stop − 1) characters are held back from
 * streaming because they may turn out to be the start of a stop string.
 *
 * <p>NOTE (issue 12, host overlap): a request without stop strings needs no text to decide when it
 * finishes, so its tokens are detokenized lazily, by the next {@link #snapshot()}, which the engine
 * takes while the device runs the following step. A request with stop strings detokenizes each token
 * as it arrives. Either way the text, the deltas and the finish reasons are the same.
 */
public final class RequestState {
    final String requestId;
    final String promptText;
    final int[] promptIds;
    final SamplingParams params;
    final String salt;
    final int prefixPos;                  // explicit prefix length to keep (0 = none)
    final List<Sequence> seqs = new ArrayList<>();
    final SeqText[] texts;
    int cachedTokens = -1;                // prompt tokens taken from the prefix cache at first admission
    List<Logprob> promptLogprobs;

    RequestState(String requestId, String promptText, int[] promptIds, SamplingParams params, String salt,
                 int prefixPos, Tokenizer tokenizer) {
        this.requestId = requestId;
        this.promptText = promptText;
        this.promptIds = promptIds;
        this.params = params;
        this.salt = salt;
        this.prefixPos = prefixPos;
        this.texts = new SeqText[params.n()];
        for (int i = 0; i < texts.length; i++) texts[i] = new SeqText(
                tokenizer.newDetokenizer(promptIds, params.skipSpecialTokens(), params.spacesBetweenSpecialTokens()),
                params.logprobs() != null);
        if (params.promptLogprobs() != null) {
            promptLogprobs = new ArrayList<>();
            promptLogprobs.add(null);     // position 0 has no distribution
        }
    }

    public String requestId() { return requestId; }

    public boolean finished() {
        for (SeqText t : texts) if (t.finish == null) return false;
        return true;
    }

    /** Per-sequence output: the token ids and text so far and what has already been streamed. */
    static final class SeqText {
        final IncrementalDetokenizer detok;
        final StringBuilder text = new StringBuilder();
        final List<Logprob> logprobs;
        final IntArrayList outputIds = new IntArrayList();
        int emittedChars, emittedTokens;
        int textIds;              // leading output ids that belong in the text (all but an ending EOS or stop token)
        int decodedIds;           // of those, ids the detokenizer has been given
        boolean flushPending;     // finished while text was lazy: the detokenizer's tail is still to be flushed
        FinishReason finish;
        Object stopReason;

        SeqText(IncrementalDetokenizer detok, boolean withLogprobs) {
            this.detok = detok;
            this.logprobs = withLogprobs ? new ArrayList<>() : null;
        }
    }

    /**
     * Records one generated token of sequence {@code index}: appends its text unless it is the
     * stopping token, then looks for stop strings in the grown text.
     *
     * @param endsSequence the token is EOS or a stop token (kept in ids, not in text)
     * @return true when a stop string was found (the sequence must finish)
     */
    boolean appendToken(int index, int token, Logprob logprob, boolean endsSequence) {
        SeqText t = texts[index];
        t.outputIds.add(token);
        if (t.logprobs != null) t.logprobs.add(logprob);
        if (endsSequence) return false;
        t.textIds++;
        if (!textAtOnce()) return false;      // no stop string can end it: detokenized by the next snapshot
        int before = t.text.length();
        decodePending(t);
        return findStop(t, before);
    }

    /** Stop strings need the text as each token arrives; without them it waits for the next {@link #snapshot()}. */
    private boolean textAtOnce() { return !params.stop().isEmpty(); }

    /** Gives the detokenizer the text ids it has not seen yet and, once the sequence finished, flushes its tail. */
    private static void decodePending(SeqText t) {
        while (t.decodedIds < t.textIds) t.text.append(t.detok.add(t.outputIds.getInt(t.decodedIds++)));
        if (t.flushPending) {
            t.flushPending = false;
            t.text.append(t.detok.flush());
        }
    }

    /** Flushes a finishing sequence's detokenizer, ends it and checks the flushed tail for stops. */
    void finish(int index, FinishReason reason, Object stopReason) {
        SeqText t = texts[index];
        if (t.finish != null) return;
        if (!textAtOnce()) {                  // no stop string: nothing in the tail can change the reason
            t.flushPending = true;
            t.finish = reason;
            t.stopReason = stopReason;
            return;
        }
        if (reason != FinishReason.STOP || stopReason == null || !(stopReason instanceof String)) {
            int before = t.text.length();
            t.text.append(t.detok.flush());
            if (findStop(t, before)) return;
        }
        t.finish = reason;
        t.stopReason = stopReason;
    }

    /**
     * Looks for a stop string in the text added since {@code before} (plus the stop length − 1
     * characters before it, for a stop split over tokens). As in vLLM, no stop condition applies
     * before {@code min_tokens} output tokens: a stop string that ended earlier is not found later.
     */
    private boolean findStop(SeqText t, int before) {
        List<String> stops = params.stop();
        if (stops.isEmpty() || t.outputIds.size() < params.minTokens()) return false;
        int from = Math.max(0, before - params.maxStopStringLength() + 1);
        int best = -1;
        String which = null;
        for (String s : stops) {
            int at = t.text.indexOf(s, from);
            if (at >= 0 && (best < 0 || at < best)) { best = at; which = s; }
        }
        if (best < 0) return false;
        t.text.setLength(best);
        t.finish = FinishReason.STOP;
        t.stopReason = which;
        return true;
    }

    /** A snapshot for the caller with the text and tokens added since the previous snapshot. */
    RequestOutput snapshot() {
        List<CompletionOutput> outs = new ArrayList<>(texts.length);
        int holdBack = Math.max(0, params.maxStopStringLength() - 1);
        for (int i = 0; i < texts.length; i++) {
            SeqText t = texts[i];
            decodePending(t);
            int visible = t.finish != null ? t.text.length() : Math.max(t.emittedChars, t.text.length() - holdBack);
            // never cut a surrogate pair when holding back
            if (visible > 0 && visible < t.text.length() && Character.isHighSurrogate(t.text.charAt(visible - 1))) visible--;
            visible = Math.max(visible, t.emittedChars);
            String all = t.text.substring(0, visible);
            String delta = all.substring(t.emittedChars);
            int[] ids = t.outputIds.toIntArray();
            int[] newIds = Arrays.copyOfRange(ids, Math.min(t.emittedTokens, ids.length), ids.length);
            t.emittedChars = visible;
            t.emittedTokens = ids.length;
            outs.add(new CompletionOutput(i, all, ids, delta, newIds,
                    t.logprobs == null ? null : List.copyOf(t.logprobs), t.finish, t.stopReason));
        }
        return new RequestOutput(requestId, promptText, promptIds, outs, finished(), Math.max(0, cachedTokens),
                promptLogprobs == null ? null : new ArrayList<>(promptLogprobs), null);
    }
}
