package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;

import java.util.zip.CRC32;

/**
 * Run 53-gqa11's bit probe (compiled beside the bundle's jars, not part of the build): DecodeKernels' output at the GQA-4 × 64
 * shape (bf16, bf16 ALiBi, fp16) and at GQA-4 × 128, split and whole mode, as a CRC32 of the float bits. Run with main's kernels
 * jar and with the branch's: equal CRCs = the same bits on the device.
 */
public final class BitsProbe {
    public static void main(String[] args) {
        int[] ctx = new int[96], one = new int[96];
        for (int i = 0; i < ctx.length; i++) { ctx[i] = 1 + (i * 97) % 1500; one[i] = 1; }
        Object[][] cases = {{64, false, KvStore.BF16}, {64, true, KvStore.BF16}, {64, false, KvStore.F16}, {128, false, KvStore.BF16}};
        try (CudaBackend cuda = CudaBackend.open(0)) {
            for (Object[] c : cases) {
                int d = (Integer) c[0];
                try (PagedBatch b = new PagedBatch(32, 8, d, 16, ctx, one, (Boolean) c[1], (KvStore) c[2], 53);
                     PagedAttention attn = new PagedAttention(32, 8, d, 16, b.maxContext(), b.tokens)) {
                    for (boolean split : new boolean[] {true, false}) {
                        CRC32 crc = new CRC32();
                        for (float f : b.run(cuda, attn, b.allTokens(), split)) {
                            int x = Float.floatToRawIntBits(f);
                            crc.update(new byte[] {(byte) x, (byte) (x >> 8), (byte) (x >> 16), (byte) (x >> 24)});
                        }
                        System.out.printf("bits GQA4 D%d %s%s %s: crc32 %08x%n", d, c[2], (Boolean) c[1] ? " ALiBi" : "", split ? "split" : "whole", crc.getValue());
                    }
                }
            }
        }
    }
}
