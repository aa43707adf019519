package dev.arbor.engine;

import dev.arbor.kernels.attention.CascadeAttention;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11: the model runner forms cascade groups from a shared prompt. Sixteen requests behind one 1,100-token
 * prompt decode with block tables that begin with the same 68 physical blocks (the trie made them so);
 * the runner passes them as one group (FakeLM checks each group's blocks agree), and the outputs are
 * those of the same requests run one at a time (FakeLM's logits read the store through the tables).
 */
class CascadeGroupsEngineTest {
    /** The shared prompt: 68 full blocks of 16 (16 × 1,088 = 17,408 (sequence, shared key) pairs, over CascadeAttention.MIN_SHARED_READS). */
    private static final int SHARED = 1100;

    private static int[] prompt(int own) {
        int[] t = new int[SHARED + own];
        for (int i = 0; i < SHARED; i++) t[i] = (1 + i * 7) % 250;
        for (int i = 0; i < own; i++) t[SHARED + i] = (own * 31 + i * 13) % 250;
        return t;
    }

    private static List<int[]> prompts(int n) {
        List<int[]> ps = new ArrayList<>();
        for (int i = 0; i < n; i++) ps.add(prompt(3 + 3 * i));
        return ps;
    }

    private static final SamplingParams GREEDY_6 = SamplingParams.builder().temperature(0).maxTokens(6).ignoreEos(true).build();

    @Test
    void requestsBehindASharedPromptDecodeAsOneCascadeGroup() {
        FakeLM lm = new FakeLM();
        LLM llm = new LLM(new LLMEngine(lm, new ByteTokenizer(300), EngineConfig.builder().numBlocks(512).blockSize(16).build()));
        List<RequestOutput> batched = llm.generateTokens(prompts(16), GREEDY_6);
        assertTrue(lm.stepsWithGroups >= 5, "decode steps with a cascade group: " + lm.stepsWithGroups);
        assertEquals(16, lm.maxGroupSeqs, "all sixteen requests in one group");
        assertEquals(68 * 16, lm.maxSharedKeys, "the prompt's 68 full blocks are shared");
        assertTrue(CascadeAttention.pays(16, 68 * 16));

        FakeLM alone = new FakeLM();
        LLM one = new LLM(new LLMEngine(alone, new ByteTokenizer(300), EngineConfig.builder().numBlocks(512).blockSize(16).build()));
        List<int[]> ps = prompts(16);
        for (int i = 0; i < 16; i++) {
            RequestOutput o = one.generateTokens(List.of(ps.get(i)), GREEDY_6).get(0);
            assertArrayEquals(o.outputs().get(0).tokenIds(), batched.get(i).outputs().get(0).tokenIds(), "request " + i);
        }
        assertEquals(0, alone.stepsWithGroups, "a lone request forms no group");
    }

    @Test
    void smallGroupsStayPaged() {
        FakeLM lm = new FakeLM();
        LLM llm = new LLM(new LLMEngine(lm, new ByteTokenizer(300), EngineConfig.builder().numBlocks(512).blockSize(16).build()));
        llm.generateTokens(prompts(CascadeAttention.MIN_SEQUENCES - 1), GREEDY_6);
        assertEquals(0, lm.stepsWithGroups, "fewer than MIN_SEQUENCES sequences form no group");
    }
}
