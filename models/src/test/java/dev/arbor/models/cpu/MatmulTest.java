package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The vectorised batched matmul against a plain double-precision loop, over odd sizes that hit every tail. */
class MatmulTest {
    private static final int[] SIZES = {1, 7, 13, 255, 1000};
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @ParameterizedTest
    @EnumSource(DType.class)
    void agreesWithReferenceOverOddSizes(DType dtype) {
        SplittableRandom rnd = new SplittableRandom(7);
        try (Arena arena = Arena.ofShared()) {
            for (int rows : SIZES) {
                for (int cols : SIZES) {
                    int tokens = 1 + rnd.nextInt(5);
                    float[] w = new float[rows * cols];
                    MemorySegment seg = arena.allocate((long) w.length * dtype.bytes());
                    for (int i = 0; i < w.length; i++) {
                        float v = (float) rnd.nextDouble(-1, 1);
                        switch (dtype) {
                            case BF16 -> { seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits(v) >>> 16)); w[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xFFFF0000); }
                            case F16 -> { seg.setAtIndex(S, i, Float.floatToFloat16(v)); w[i] = Float.float16ToFloat(Float.floatToFloat16(v)); }
                            case F32 -> { seg.setAtIndex(F, i, v); w[i] = v; }
                        }
                    }
                    Matrix m = Matrix.of(new Tensor("w", "test", dtype, new long[] {rows, cols}, seg));
                    float[] x = new float[tokens * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                    float[] out = new float[tokens * rows];
                    Matmul.apply(x, tokens, m, out);
                    for (int t = 0; t < tokens; t++) {
                        for (int r = 0; r < rows; r++) {
                            double ref = 0;
                            for (int c = 0; c < cols; c++) ref += (double) w[r * cols + c] * x[t * cols + c];
                            assertEquals(ref, out[t * rows + r], 1e-5 * Math.sqrt(cols) + 1e-6,
                                    dtype + " " + rows + "x" + cols + " token " + t + " row " + r);
                        }
                    }
                }
            }
        }
    }

    /**
     * The blocked GEMM (micro-kernels over token groups, one-token tails, partial tiles) gives the bits of the plain
     * reference order for every token count around the micro-kernel's and the token block's sizes.
     */
    @ParameterizedTest
    @EnumSource(DType.class)
    void blockedGemmEqualsReferenceBitForBit(DType dtype) {
        SplittableRandom rnd = new SplittableRandom(13);
        int[] rowCounts = {1, 4, 7, 13, 33};
        int[] colCounts = {1, 7, 16, 33, 255, 1000};
        try (Arena arena = Arena.ofShared()) {
            for (int rows : rowCounts) {
                for (int cols : colCounts) {
                    Matrix m = randomMatrix(arena, dtype, rows, cols, rnd);
                    int block = Matmul.tokenBlock(cols);
                    for (int tokens : new int[] {1, 2, 3, 4, 5, 8, 9, 13, block - 1, block + 3}) {
                        if (tokens < 1) continue;
                        float[] x = new float[tokens * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                        float[] got = new float[tokens * rows], want = new float[tokens * rows];
                        Matmul.apply(x, tokens, m, got);
                        Matmul.reference(x, tokens, m, want);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                                    dtype + " " + rows + "x" + cols + ", " + tokens + " tokens, element " + i);
                        }
                    }
                }
            }
        }
    }

    static Matrix randomMatrix(Arena arena, DType dtype, int rows, int cols, SplittableRandom rnd) {
        MemorySegment seg = arena.allocate((long) rows * cols * dtype.bytes());
        for (int i = 0; i < rows * cols; i++) {
            float v = (float) rnd.nextDouble(-1, 1);
            switch (dtype) {
                case BF16 -> seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                case F16 -> seg.setAtIndex(S, i, Float.floatToFloat16(v));
                case F32 -> seg.setAtIndex(F, i, v);
            }
        }
        return Matrix.of(new Tensor("w", "test", dtype, new long[] {rows, cols}, seg));
    }

    /** A (token, row) result has the same bits whether computed in a batch of 301 tokens or alone. */
    @org.junit.jupiter.api.Test
    void batchedEqualsOneTokenAtATimeBitForBit() {
        SplittableRandom rnd = new SplittableRandom(11);
        int rows = 23, cols = 1000, tokens = 301; // odd rows (a partial tile), a vector tail in every row
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(2L * rows * cols);
            for (int i = 0; i < rows * cols; i++) seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-1, 1)) >>> 16));
            Matrix m = Matrix.of(new Tensor("w", "test", DType.BF16, new long[] {rows, cols}, seg));
            float[] x = new float[tokens * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
            float[] all = new float[tokens * rows];
            Matmul.apply(x, tokens, m, all);
            float[] one = new float[rows];
            for (int t = 0; t < tokens; t++) {
                Matmul.apply(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, m, one);
                for (int r = 0; r < rows; r++) {
                    assertEquals(Float.floatToRawIntBits(one[r]), Float.floatToRawIntBits(all[t * rows + r]), "token " + t + " row " + r);
                }
            }
        }
    }
    /**
     * Batched decode's direct kernel ({@code -Darbor.cpu.decodeDirect8}: 8-token groups of bf16 rows widened in registers)
     * and the panel GEMM it replaces give {@link Matmul#reference}'s bits for token counts from one group to the panel
     * GEMM's threshold (leftover tokens, partial tiles, vector tails), with and without the loads that touch the rows
     * ahead ({@code -Darbor.cpu.decodeTouchAhead}), and the switch decides which path runs.
     */
    @org.junit.jupiter.api.Test
    void decodeDirect8EqualsReferenceBitForBit() {
        SplittableRandom rnd = new SplittableRandom(17);
        boolean saved = Matmul.decodeDirect8;
        int savedAhead = Matmul.touchAhead;
        try (Arena arena = Arena.ofShared()) {
            for (int rows : new int[] {1, 4, 7, 13, 33, 130}) {
                for (int cols : new int[] {1, 7, 16, 33, 255, 1000}) {
                    Matrix m = randomMatrix(arena, DType.BF16, rows, cols, rnd);
                    for (int tokens : new int[] {8, 9, 15, 16, 17, 24, PanelGemm.minTokens() - 1}) {
                        float[] x = new float[tokens * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                        float[] want = new float[tokens * rows];
                        Matmul.reference(x, tokens, m, want);
                        for (int setting = 0; setting < 3; setting++) {   // the direct kernel touching 2 or 0 row groups ahead; the panel GEMM
                            boolean direct = setting < 2;
                            Matmul.decodeDirect8 = direct;
                            Matmul.touchAhead = setting == 0 ? 2 : 0;
                            assertEquals(direct && jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() == 16,
                                    Matmul.direct8(m, tokens), "route at " + tokens + " tokens");
                            float[] got = new float[tokens * rows];
                            Matmul.apply(x, tokens, m, got);
                            for (int i = 0; i < got.length; i++) {
                                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                                        "setting " + setting + ", " + rows + "x" + cols + ", " + tokens + " tokens, element " + i);
                            }
                        }
                    }
                }
            }
        } finally {
            Matmul.decodeDirect8 = saved;
            Matmul.touchAhead = savedAhead;
        }
    }
    /**
     * {@code -Darbor.cpu.weightAddress}: the bf16 kernels reading a mapped weight tensor by absolute address through the
     * one constant segment give {@link Matmul#reference}'s bits, as the segment path does, for every route (batch-1
     * streaming, the panel GEMM, the direct 8-token kernel, {@link PanelGemm}'s packed panels) for a file mapped at an
     * offset of 16 bytes (as a checkpoint's tensors); weights in allocated memory and in a band of rows of a larger tensor keep
     * the segment path unless {@code -Darbor.cpu.weightAddressNative}, heap segments always (the route follows the switches and
     * the segment's kind), with the same bits; {@link Matrix#loadRow} of the mapped tensor gives the allocated copy's values.
     */
    @org.junit.jupiter.api.Test
    void weightAddressEqualsReferenceBitForBit() throws java.io.IOException {
        SplittableRandom rnd = new SplittableRandom(23);
        boolean savedAddress = Matmul.weightAddress, savedDirect = Matmul.decodeDirect8, savedNative = Matmul.weightAddressNative;
        java.nio.file.Path file = java.nio.file.Files.createTempFile("weight-address", ".bin");
        try (Arena arena = Arena.ofShared()) {
            int[][] shapes = {{1, 7}, {13, 33}, {33, 255}, {130, 1000}};
            for (int[] shape : shapes) {
                int rows = shape[0], cols = shape[1];
                Matrix native_ = randomMatrix(arena, DType.BF16, rows + 5, cols, rnd);
                Matrix band = native_.band(3, rows);   // rows 3 .. rows + 3 of a larger tensor
                MemorySegment src = native_.tensor().data();
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ,
                        java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
                    ch.write(java.nio.ByteBuffer.allocate(16));
                    ch.write(src.asByteBuffer());
                }
                MemorySegment mapped;
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
                    mapped = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena).asSlice(16, src.byteSize());
                }
                short[] heap = src.toArray(S);
                Matrix[] ms = {
                        Matrix.of(native_.tensor()),
                        band,
                        Matrix.of(new Tensor("w", "mapped", DType.BF16, new long[] {rows + 5, cols}, mapped)),
                        Matrix.of(new Tensor("w", "heap", DType.BF16, new long[] {rows + 5, cols}, MemorySegment.ofArray(heap)))};
                float[] rowNative = new float[cols], rowMapped = new float[cols];
                for (int r = 0; r < rows + 5; r++) {   // Matrix.loadRow: a mapped tensor's rows (read by address) = the allocated copy's
                    ms[0].loadRow(r, rowNative, 0);
                    ms[2].loadRow(r, rowMapped, 0);
                    for (int c = 0; c < cols; c++) assertEquals(Float.floatToRawIntBits(rowNative[c]), Float.floatToRawIntBits(rowMapped[c]), "loadRow " + r);
                }
                for (int mi = 0; mi < ms.length; mi++) {
                    Matrix m = ms[mi];
                    for (int tokens : new int[] {1, 2, 3, 4, 8, 9, 17, PanelGemm.minTokens() - 1, PanelGemm.minTokens() + 5}) {
                        float[] x = new float[tokens * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                        float[] want = new float[tokens * m.rows()];
                        Matmul.reference(x, tokens, m, want);
                        for (int setting = 0; setting < 8; setting++) {
                            Matmul.weightAddress = (setting & 1) != 0;
                            Matmul.decodeDirect8 = (setting & 2) != 0;
                            Matmul.weightAddressNative = (setting & 4) != 0;
                            assertEquals(Matmul.weightAddress && (mi == 2 || Matmul.weightAddressNative && mi < 2),
                                    Matmul.byAddress(m.tensor().data()), "route, matrix " + mi + ", setting " + setting);
                            float[] got = new float[tokens * m.rows()];
                            Matmul.apply(x, tokens, m, got);
                            for (int i = 0; i < got.length; i++) {
                                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                                        "matrix " + mi + ", setting " + setting + ", " + m.rows() + "x" + cols + ", " + tokens + " tokens, element " + i);
                            }
                        }
                    }
                }
            }
        } finally {
            Matmul.weightAddress = savedAddress;
            Matmul.decodeDirect8 = savedDirect;
            Matmul.weightAddressNative = savedNative;
            java.nio.file.Files.deleteIfExists(file);
        }
    }
}
