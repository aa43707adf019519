package dev.arbor.tokenizer;

import java.util.Arrays;

/**
 * Streams the text of one sequence as tokens arrive, following vLLM's
 * {@code detokenize_incrementally}.
 *
 * <p>Decoding a token on its own is wrong in three ways: SentencePiece drops the leading space of
 * the first token of a text ("▁Paris" alone is "Paris"), a character split over byte tokens
 * ({@code <0xE2><0x82><0xAC>} or byte-level BPE pieces) decodes to U+FFFD until its last byte
 * arrives, and decoders may merge neighbours. So we decode a short window that starts at
 * {@code prefixOffset}, a few tokens before the new ones: the text of
 * {@code [prefixOffset, readOffset)} was already emitted, and whatever the window decodes to beyond
 * it is new. The new text is held back while it ends in U+FFFD (an incomplete character) and
 * emitted once the character completes; then the window slides forward.
 *
 * <p>Invariant: the concatenation of every {@link #add} result and {@link #flush()} equals
 * {@code tokenizer.decode(allIdsAdded, skipSpecialTokens)}; after a prompt, it equals the text of
 * prompt + output beyond the prompt's last token that ended on a whole character: a character whose
 * first bytes end the prompt and whose last bytes the output completes comes out with the output,
 * with the rest of those pending prompt tokens' text, as vLLM's {@code DecodeStream} gives it.
 *
 * <p>With {@code skipSpecialTokens=false}, special tokens appear in the text; then
 * {@code spacesBetweenSpecialTokens=false} makes a special token that follows another one appear as
 * its bare text, without a space the decoder may put before it (vLLM's fast detokenizer does the same).
 * Not thread-safe: one per sequence.
 */
public final class IncrementalDetokenizer {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private final boolean spacesBetweenSpecialTokens;
    private boolean lastWasSpecial;
    private int[] ids = new int[64];
    private int size;
    /** Start of the decode window; tokens before it are never looked at again. */
    private int prefixOffset;
    /** Tokens before this index have had their text emitted. */
    private int readOffset;

    /**
     * Primes the window with the tail of the prompt, whose text counts as already emitted, so that
     * e.g. the first generated "▁Paris" comes out as " Paris", and a character whose first bytes end
     * the prompt is emitted when the output completes it. As vLLM's fast detokenizer does, the tail is
     * the shortest one of 4 to 23 tokens that does not start inside a character, and it is fed
     * through {@link #add} with the text thrown away: what is still incomplete stays pending.
     */
    IncrementalDetokenizer(Tokenizer tokenizer, int[] context, boolean skipSpecialTokens, boolean spacesBetweenSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        this.spacesBetweenSpecialTokens = skipSpecialTokens || spacesBetweenSpecialTokens;
        int keep = Math.min(context.length, 5);
        for (int n = 4; n <= Math.min(context.length, 23); n++) {
            if (!startsInsideACharacter(Arrays.copyOfRange(context, context.length - n, context.length))) {
                keep = n;
                break;
            }
        }
        for (int i = context.length - keep; i < context.length; i++) step(context[i]);
    }

    private boolean startsInsideACharacter(int[] tail) {
        String text = tokenizer.decode(tail, skipSpecialTokens);
        int end = text.length();
        while (end > 0 && text.charAt(end - 1) == '\uFFFD') end--;   // an unfinished last character is fine
        return text.substring(0, end).indexOf('\uFFFD') >= 0;
    }

    /** Adds one generated token; returns the text that became stable (often "", never half a character). */
    public String add(int tokenId) {
        String text = step(tokenId);
        if (!spacesBetweenSpecialTokens) {
            String special = tokenizer.addedTokenText(tokenId);
            if (special != null && lastWasSpecial && !text.isEmpty()) text = special;
            lastWasSpecial = special != null;
        }
        return text;
    }

    private String step(int tokenId) {
        append(tokenId);
        String known = decode(prefixOffset, readOffset);
        String window = decode(prefixOffset, size);
        if (window.length() <= known.length() || window.endsWith("\uFFFD")) {
            return ""; // nothing new yet (a special token, or a character still incomplete)
        }
        prefixOffset = readOffset;
        readOffset = size;
        return newSuffix(known, window);
    }

    /** Emits whatever is still held back (e.g. a stray byte that never completed) at the end of the sequence. */
    public String flush() {
        String known = decode(prefixOffset, readOffset);
        String window = decode(prefixOffset, size);
        prefixOffset = readOffset = size;
        return window.length() > known.length() ? newSuffix(known, window) : "";
    }

    private static String newSuffix(String known, String window) {
        // The window's text extends the known text in every tokenizer we have seen; if a decoder ever
        // rewrote the boundary, emitting the tail by length still keeps the stream readable.
        return window.substring(known.length());
    }

    private String decode(int from, int to) {
        return tokenizer.decode(Arrays.copyOfRange(ids, from, to), skipSpecialTokens);
    }

    private void append(int id) {
        if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
        ids[size++] = id;
    }
}
