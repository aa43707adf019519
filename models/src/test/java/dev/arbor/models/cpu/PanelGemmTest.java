package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * {@link PanelGemm} (the outer-product GEMM over residue-major bf16 panels) against {@link Matmul#reference} bit for
 * bit: whole matrices, bands of a tensor, tile ranges that start and end inside panels (the fused stages' and the
 * threads' ranges), token counts around the micro-kernel and the token block, vector tails; and a token's row the
 * same in a prefill-sized batch as alone (batch-1 decode's streaming kernel).
 */
class PanelGemmTest {
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    private static Tensor bf16(Arena arena, int rows, int cols, SplittableRandom rnd) {
        MemorySegment seg = arena.allocate(2L * rows * cols);
        for (int i = 0; i < rows * cols; i++) {
            seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-1, 1)) >>> 16));
        }
        return new Tensor("w", "test", DType.BF16, new long[] {rows, cols}, seg);
    }

    private static float[] random(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextDouble(-1, 1);
        return x;
    }

    private static void assertBits(float[] want, float[] got, int from, int to, String what) {
        for (int i = from; i < to; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + ", element " + i);
        }
    }

    @Test
    void wholeMatricesAndBandsEqualReferenceBitForBit() {
        if (PanelGemm.MT == 0) return;   // no micro-kernel for this vector width: Matmul never routes here
        SplittableRandom rnd = new SplittableRandom(21);
        int mt = PanelGemm.minTokens();
        try (Arena arena = Arena.ofShared()) {
            for (int rows : new int[] {2 * L, 2 * L + 3, 5 * L + 1, 100}) {
                for (int cols : new int[] {L, 3 * L + 5, 255, 768}) {
                    Tensor t = bf16(arena, rows + 9, cols, rnd);
                    for (Matrix m : new Matrix[] {Matrix.of(t).band(0, rows), Matrix.of(t).band(9, rows)}) {
                        int block = PanelGemm.tokenBlock(cols);
                        for (int tokens : new int[] {mt, mt + 1, 2 * mt + 5, block, block + 3}) {
                            assertTrue(PanelGemm.applies(m, tokens));
                            float[] x = random(tokens * cols, rnd);
                            float[] got = new float[tokens * rows], want = new float[tokens * rows];
                            Matmul.apply(x, tokens, m, got);
                            Matmul.reference(x, tokens, m, want);
                            assertBits(want, got, 0, got.length, rows + "x" + cols + " from row " + m.rowStart() + ", " + tokens + " tokens");
                        }
                    }
                }
            }
        }
    }

    /**
     * {@link PanelGemm#residueMajor} (16 × 16 register transposes with 16 lanes) against its scalar loop, bit for bit:
     * column counts with no whole 16-block of m, whole blocks only (768, 2048), blocks plus a scalar rest of m and tail
     * columns; rows at odd offsets in and out; -0.0, NaN payloads and subnormals among the values.
     */
    @Test
    void residueMajorCopyEqualsScalarLoop() {
        SplittableRandom rnd = new SplittableRandom(8);
        for (int cols : new int[] {L, 3 * L + 5, 16 * L, 16 * L + 7, 17 * L + 3, 33 * L + 15, 768, 2048, 40 * L + 1}) {
            int kl = cols / L, xo = 13, o = 5;
            float[] x = random(xo + cols + 3, rnd);
            x[xo] = -0.0f;
            x[xo + cols / 2] = Float.intBitsToFloat(0x7fc01234);
            x[xo + cols - 1] = Float.MIN_VALUE;
            float[] want = new float[o + cols + 2], got = new float[o + cols + 2];
            java.util.Arrays.fill(want, 7f);
            java.util.Arrays.fill(got, 7f);
            PanelGemm.residueMajorScalar(x, xo, cols, kl, want, o);
            PanelGemm.residueMajor(x, xo, cols, kl, got, o);
            assertBits(want, got, 0, want.length, "residue-major copy of " + cols + " columns");
        }
    }

    /** Tokens past one block of the call's shared residue-major activations ({@link PanelGemm#sharedBlock}). */
    @Test
    void tokensPastASharedBlockEqualReferenceBitForBit() {
        if (PanelGemm.MT == 0) return;
        SplittableRandom rnd = new SplittableRandom(25);
        int rows = 2 * L + 3, cols = 768, tokens = PanelGemm.sharedBlock(cols) + PanelGemm.MT + 1;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = Matrix.of(bf16(arena, rows, cols, rnd));
            float[] x = random(tokens * cols, rnd);
            float[] got = new float[tokens * rows], want = new float[tokens * rows];
            Matmul.apply(x, tokens, m, got);
            Matmul.reference(x, tokens, m, want);
            assertBits(want, got, 0, got.length, tokens + " tokens");
        }
    }

    /**
     * Ranges of tiles as the threads and {@code FusedStages} cut them: starting and ending anywhere in a panel; with the
     * activations copied per range and formed once for the call ({@link PanelGemm.Activations}).
     */
    @Test
    void tileRangesEqualReferenceBitForBit() {
        if (PanelGemm.MT == 0) return;
        SplittableRandom rnd = new SplittableRandom(22);
        int rows = 9 * L + 4, cols = 2 * L + 3, tokens = PanelGemm.minTokens() + PanelGemm.MT + 2, tiles = Matmul.tiles(rows);
        try (Arena arena = Arena.ofShared()) {
            Matrix m = Matrix.of(bf16(arena, rows, cols, rnd));
            assertTrue(PanelGemm.applies(m, tokens));
            float[] x = random(tokens * cols, rnd);
            float[] want = new float[tokens * rows];
            Matmul.reference(x, tokens, m, want);
            // the call's residue-major activations formed once (the default) or each range's blocks copied (null)
            float[] shared = new PanelGemm.Activations().prepare(x, tokens, m);
            for (int from = 0; from < tiles; from += 1 + rnd.nextInt(3)) {
                for (int to = from + 1; to <= tiles; to += 1 + rnd.nextInt(4)) {
                  for (float[] xr : new float[][] {null, shared}) {
                    float[] got = new float[tokens * rows];
                    java.util.Arrays.fill(got, Float.NaN);
                    Matmul.tiles(x, xr, tokens, m, got, from, to);
                    int r0 = from * Matmul.TILE, r1 = Math.min(rows, to * Matmul.TILE);
                    for (int t = 0; t < tokens; t++) {
                        assertBits(want, got, t * rows + r0, t * rows + r1, "tiles [" + from + ", " + to + "), token " + t);
                        for (int r = 0; r < rows; r++) {
                            if (r < r0 || r >= r1) assertTrue(Float.isNaN(got[t * rows + r]), "row " + r + " outside the range written");
                        }
                    }
                  }
                }
            }
        }
    }

    /** Prefill through the panels, batch-1 decode through the streaming kernel: the same bits for every token. */
    @Test
    void prefillRowsEqualOneTokenDecodeBitForBit() {
        SplittableRandom rnd = new SplittableRandom(23);
        int rows = 6 * L, cols = 768, tokens = PanelGemm.minTokens() + 9;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = Matrix.of(bf16(arena, rows, cols, rnd));
            float[] x = random(tokens * cols, rnd);
            float[] all = new float[tokens * rows], one = new float[rows];
            Matmul.apply(x, tokens, m, all);
            for (int t = 0; t < tokens; t++) {
                Matmul.apply(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, m, one);
                for (int r = 0; r < rows; r++) {
                    assertEquals(Float.floatToRawIntBits(one[r]), Float.floatToRawIntBits(all[t * rows + r]), "token " + t + " row " + r);
                }
            }
        }
    }

    @Test
    void packedOncePerMatrixAndOnlyFromBf16() {
        SplittableRandom rnd = new SplittableRandom(24);
        try (Arena arena = Arena.ofShared()) {
            Tensor t = bf16(arena, 4 * L, 2 * L, rnd);
            Matrix a = Matrix.of(t).band(0, 2 * L), b = Matrix.of(t).band(2 * L, 2 * L);
            MemorySegment pa = PanelGemm.packed(a), pb = PanelGemm.packed(b);
            assertSame(pa, PanelGemm.packed(Matrix.of(t).band(0, 2 * L)), "found again by tensor and band, not packed twice");
            assertSame(pb, PanelGemm.packed(b));
            assertTrue(pa != pb);
            // panel 0, residue j, step m, lane i holds row i's column j + L·m
            int kl = 2;
            for (int i = 0; i < L; i++) {
                for (int c = 0; c < 2 * L; c++) {
                    short want = t.data().getAtIndex(S, (long) (2 * L + i) * 2 * L + c);
                    assertEquals(want, pb.getAtIndex(S, (long) ((c % L) * kl + c / L) * L + i), "row " + i + " column " + c);
                }
            }
            MemorySegment f32 = arena.allocate(4L * 2 * L * L);
            Matrix m = Matrix.of(new Tensor("w", "test", DType.F32, new long[] {2 * L, L}, f32));
            assertThrows(IllegalArgumentException.class, () -> PanelGemm.pack(m));
        }
    }
}
