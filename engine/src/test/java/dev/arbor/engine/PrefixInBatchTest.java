package dev.arbor.engine;

import dev.arbor.engine.cache.PrefixInfo;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 13, fault 8: registering a prefix is an ordinary request in the batch; other streams keep going. */
class PrefixInBatchTest {
    private static int[] seq(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (from + i * 7) % 250;
        return t;
    }

    @Test
    void otherStreamsAdvanceWhileAPrefixIsComputed() throws Exception {
        // Budget 16 tokens a step: the 96-token prefix takes at least 6 steps, each with a decode step of the stream.
        // 320 blocks hold the whole stream (4 + 4000 tokens = 251 blocks) beside the pinned prefix (6): with 64, a slow
        // test thread let the stream fill the unpinned blocks before its abort, and it failed as unschedulable.
        try (AsyncEngine engine = new AsyncEngine(new LLMEngine(new FakeLM(), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(320).blockSize(16).maxNumBatchedTokens(16).build()))) {
            AtomicInteger delivered = new AtomicInteger();
            CompletableFuture<RequestOutput> streamDone = new CompletableFuture<>();
            String stream = engine.submit(Prompt.ofTokens(seq(1, 4)), SamplingParams.builder().temperature(0).maxTokens(4000).ignoreEos(true).build(), null,
                    o -> { delivered.incrementAndGet(); if (o.finished()) streamDone.complete(o); }).get(10, TimeUnit.SECONDS);
            while (delivered.get() < 3) Thread.sleep(1);       // the stream is decoding

            int[] atStart = new int[1], atEnd = new int[1];
            CompletableFuture<PrefixInfo> registered = engine.call(e -> {
                        assertFalse(streamDone.isDone(), "the stream should still be decoding");
                        atStart[0] = delivered.get();
                        return 0; })
                    .thenCompose(x -> engine.registerPrefix(Prompt.ofTokens(seq(9, 96)), null));
            registered.thenRun(() -> atEnd[0] = delivered.get());   // runs on the loop thread as the prefix is pinned
            PrefixInfo info = registered.get(30, TimeUnit.SECONDS);
            assertEquals(96, info.numTokens());
            assertTrue(info.pinned());
            assertTrue(atEnd[0] - atStart[0] >= 5, "the stream got " + (atEnd[0] - atStart[0]) + " updates while the prefix was computed");
            engine.abort(stream);
            assertFalse(streamDone.get(30, TimeUnit.SECONDS).failed());
            assertEquals(1, engine.listPrefixes(null).get().size());
        }
    }

    @Test
    void aBadPrefixIsRefusedAtOnce() throws Exception {
        try (AsyncEngine engine = new AsyncEngine(new LLMEngine(new FakeLM(), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).blockSize(16).build()))) {
            var e = assertThrows(ExecutionException.class, () -> engine.registerPrefix(Prompt.ofTokens(seq(1, 5)), null).get(10, TimeUnit.SECONDS));
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
            assertTrue(engine.idle());
        }
    }
}
