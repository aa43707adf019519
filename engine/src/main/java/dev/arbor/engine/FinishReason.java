package dev.arbor.engine;

/** Why a completion ended; the lower-case name is what OpenAI clients expect. */
public enum FinishReason {
    /** EOS, a stop token or a stop string. */
    STOP,
    /** max_tokens or the model's context length. */
    LENGTH,
    /** Cancelled by the caller (e.g. an HTTP client went away). */
    ABORT,
    /** The request was rejected or failed; see {@link RequestOutput#error()}. */
    ERROR;

    public String wireName() { return name().toLowerCase(); }
}
