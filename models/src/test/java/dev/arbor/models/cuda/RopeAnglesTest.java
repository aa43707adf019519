package dev.arbor.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.models.RopeConfig;
import dev.arbor.models.cpu.Rope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The angle table by position gives {@link Rope#fill}'s bits for every token, through both paths (host rows for small
 * steps, the device gather above {@link RopeAngles#HOST_COPY_MAX_TOKENS} tokens), across the table's growth, for the
 * plain and the llama3-scaled frequencies (bf16-rounded as a bf16 checkpoint's); out-of-table positions are refused.
 */
class RopeAnglesTest {
    static final int MAX_POSITIONS = 5000;

    @Test
    void gatheredAnglesEqualRopeFillBitForBit() {
        for (Rope rope : new Rope[] {new Rope(RopeConfig.plain(10000), 128, "bfloat16"),
                new Rope(new RopeConfig(500000, "llama3", 32, 1, 4, 8192), 64, "float32")}) {
            int half = rope.half();
            try (Backend b = new CpuBackend(); RopeAngles angles = new RopeAngles(b, rope, MAX_POSITIONS)) {
                int maxTokens = 700;
                FloatArray cos = new FloatArray(maxTokens * half), sin = new FloatArray(maxTokens * half);
                IntArray devicePositions = new IntArray(maxTokens);
                b.toDevice(cos, sin, devicePositions);
                Random r = new Random(half);
                // small then large steps, positions reaching further each time: the table grows between steps
                int[][] steps = {{1, 10}, {7, 900}, {255, 100}, {256, 2000}, {257, 1500}, {700, 4999}, {13, 3000}, {1, 0}};
                for (int[] step : steps) {
                    int tokens = step[0], reach = step[1];
                    int[] positions = new int[maxTokens];
                    for (int t = 0; t < tokens; t++) positions[t] = t == 0 ? reach : r.nextInt(reach + 1);
                    for (int t = 0; t < tokens; t++) devicePositions.set(t, positions[t]);
                    b.toDevice(devicePositions, tokens);
                    angles.fill(b, positions, tokens, devicePositions, cos, sin);
                    b.toHost(cos, sin);
                    float[] expectCos = new float[tokens * half], expectSin = new float[tokens * half];
                    rope.fill(positions, tokens, expectCos, expectSin);
                    for (int i = 0; i < tokens * half; i++) {
                        assertEquals(Float.floatToRawIntBits(expectCos[i]), Float.floatToRawIntBits(cos.get(i)), "cos, " + tokens + " tokens, at " + i);
                        assertEquals(Float.floatToRawIntBits(expectSin[i]), Float.floatToRawIntBits(sin.get(i)), "sin, " + tokens + " tokens, at " + i);
                    }
                    assertEquals(true, angles.filled() > reach && angles.filled() <= MAX_POSITIONS, "rows filled: " + angles.filled());
                }
                assertThrows(IllegalArgumentException.class, () -> angles.fill(b, new int[] {MAX_POSITIONS}, 1, devicePositions, cos, sin));
                assertThrows(IllegalArgumentException.class, () -> angles.fill(b, new int[] {-1}, 1, devicePositions, cos, sin));
                cos.close();
                sin.close();
                devicePositions.close();
            }
        }
    }
}
