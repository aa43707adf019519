package dev.arbor.models.backend;

import dev.arbor.kernels.sampling.Philox;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.OpProfile;
import dev.arbor.models.StepShape;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code -Darbor.opProfile=true} on the CPU backend: the profiled forward pass gives the same logits and tokens, bit for
 * bit, as the plain one, and its profile has one entry per operation the pass launched (per layer: the fused q|k|v stage,
 * attention, the o projection + residual + norm, gate|up + SwiGLU, down + residual + norm; once: embedding, two norms,
 * the logit-row gather, lm_head, sampling), decode and prefill steps apart.
 */
class ProfiledOpsTest {
    private static final StepShape SHAPE = new StepShape(64, 16, 256, 8, 32, 8);

    /** A 5-token prefill step, then one decode step; returns both steps' logits rows and sampled tokens. */
    static float[][] run(ModelExecutor e, int vocab) {
        int[] table = new int[16];
        for (int i = 0; i < table.length; i++) table[i] = i;
        float[][] out = new float[2][vocab + 1];
        for (int step = 0; step < 2; step++) {
            ForwardBatch b = e.batch();
            b.clear();
            b.beginSequence(table, table.length);
            if (step == 0) for (int t = 0; t < 5; t++) b.addToken((t * 7 + 3) % 259, t);
            else b.addToken(11, 5);
            b.addLogitRow(step == 0 ? 4 : 0);
            e.forward();
            e.computeLogits(0);
            e.sampling().clear();
            e.sampling().addRow(0.8, 40, 0.9, 0, 1, 0, 0, 7L, Philox.counter(0, step), -1);
            e.sample();
            e.readLogits(0, out[step]);
            out[step][vocab] = e.sampling().token(0);
        }
        return out;
    }

    @Test
    void profiledPassEqualsThePlainOneAndCountsEachOperation() {
        String before = System.getProperty(OpProfile.PROPERTY);
        try (CausalLM m = ModelLoader.load("synthetic:tiny")) {
            int vocab = m.config().vocabSize(), layers = m.config().numLayers(), hidden = m.config().hiddenSize();
            float[][] plain, profiled;
            System.clearProperty(OpProfile.PROPERTY);
            try (ModelExecutor e = m.open(SHAPE)) {
                assertNull(e.opProfile(), "no profile without the property");
                plain = run(e, vocab);
            }
            System.setProperty(OpProfile.PROPERTY, "true");
            OpProfile profile;
            try (ModelExecutor e = m.open(SHAPE)) {
                profiled = run(e, vocab);
                profile = e.opProfile();
            }
            for (int s = 0; s < 2; s++) assertArrayEquals(plain[s], profiled[s], "step " + s + ": logits and token");

            assertEquals(1, profile.steps(true), "decode steps");
            assertEquals(1, profile.steps(false), "prefill steps");
            for (boolean decode : new boolean[]{true, false}) {
                Map<String, OpProfile.Row> rows = profile.rows(decode).stream().collect(Collectors.toMap(OpProfile.Row::op, Function.identity()));
                for (String op : List.of("qkvRopeStore", "attention", "gateUpSilu")) assertEquals(layers, rows.get(op).callsPerStep(), op);
                assertEquals(layers, rows.get("matmulAddNorm " + hidden + "x" + m.config().qDim()).callsPerStep(), "o projection");
                assertEquals(layers, rows.get("matmulAddNorm " + hidden + "x" + m.config().intermediateSize()).callsPerStep(), "down projection");
                assertEquals(1, rows.get("matmul " + vocab + "x" + hidden).callsPerStep(), "lm_head");
                assertEquals(2, rows.get("rmsNorm").callsPerStep(), "first input norm and final norm");
                for (String op : List.of("embed", "gatherRows", "sample")) assertEquals(1, rows.get(op).callsPerStep(), op);
                double share = 0;
                for (OpProfile.Row r : rows.values()) {
                    assertTrue(r.millisPerStep() >= 0, r.toString());
                    share += r.share();
                }
                assertEquals(1.0, share, 1e-9, "shares add up");
            }
            String report = profile.report();
            assertTrue(report.contains("decode steps") && report.contains("prefill/mixed steps") && report.contains("qkvRopeStore"), report);
            profile.reset();
            assertEquals(0, profile.steps(true));
            assertTrue(profile.rows(false).isEmpty());
        } finally {
            if (before == null) System.clearProperty(OpProfile.PROPERTY);
            else System.setProperty(OpProfile.PROPERTY, before);
        }
    }
}
