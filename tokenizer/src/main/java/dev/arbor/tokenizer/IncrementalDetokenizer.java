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
 * {@code tokenizer.decode(allIdsAdded)} (special tokens skipped). Not thread-safe: one per sequence.
 */
public final class IncrementalDetokenizer {
    private final Tokenizer tokenizer;
    private int[] ids = new int[64];
    private int size;
    /** Start of the decode window; tokens before it are never looked at again. */
    private int prefixOffset;
    /** Tokens before this index have had their text emitted. */
    private int readOffset;

    IncrementalDetokenizer(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Seeds the window with the tail of the prompt, whose text counts as already emitted, so that
     * e.g. the first generated "▁Paris" comes out as " Paris". Five tokens are vLLM's choice: enough
     * for any byte-split character and the decoders' look-behind.
     */
    IncrementalDetokenizer(Tokenizer tokenizer, int[] context) {
        this(tokenizer);
        int keep = Math.min(context.length, 5);
        for (int i = context.length - keep; i < context.length; i++) append(context[i]);
        readOffset = size;
    }

    /** Adds one generated token; returns the text that became stable (often "", never half a character). */
    public String add(int tokenId) {
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
        return tokenizer.decode(Arrays.copyOfRange(ids, from, to), true);
    }

    private void append(int id) {
        if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
        ids[size++] = id;
    }
}
