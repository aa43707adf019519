package dev.arbor.engine;

/** A prompt given as text (tokenised by the model's tokenizer) or as token ids (used as they are). */
public record Prompt(String text, int[] tokenIds) {
    public Prompt {
        if ((text == null) == (tokenIds == null)) throw new IllegalArgumentException("a prompt is either text or token ids");
    }

    public static Prompt of(String text) { return new Prompt(text, null); }

    public static Prompt ofTokens(int... tokenIds) { return new Prompt(null, tokenIds.clone()); }

    public boolean isText() { return text != null; }
}
