package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link ForwardBatch#padDecode}: inert rows a CUDA graph bucket can launch over, and the real batch back after. */
class ForwardBatchPaddingTest {
    private final StepShape shape = new StepShape(64, 16, 32, 8, 4, 8);

    private ForwardBatch decodeBatch(int seqs) {
        ForwardBatch b = new ForwardBatch(shape);
        for (int s = 0; s < seqs; s++) {
            b.beginSequence(new int[] {10 + s, 20 + s}, 2);
            b.addToken(100 + s, 17 + s);
        }
        for (int s = 0; s < seqs; s++) b.addLogitRow(s);
        return b;
    }

    @Test
    void padsADecodeBatchWithInertRowsAndRestoresIt() {
        ForwardBatch b = decodeBatch(3);
        assertTrue(b.isDecode());
        int maxContext = b.maxContextLen();
        b.padDecode(8);
        assertEquals(8, b.numTokens());
        assertEquals(8, b.numSeqs());
        assertEquals(8, b.numLogitRows());
        for (int t = 3; t < 8; t++) {
            assertEquals(-1, b.slot(t), "padding writes no KV");
            assertEquals(0, b.position(t));
            assertEquals(t, b.seqOfToken(t));
            assertEquals(t, b.logitRow(t));
            assertEquals(0, b.block(t, 0), "padding reads block 0");
            assertEquals(1, b.contextLen(t));
        }
        for (int t = 0; t < 3; t++) {
            assertEquals(100 + t, b.tokenId(t));
            assertEquals(17 + t, b.position(t));
            assertEquals((20 + t) * 16 + 1 + t, b.slot(t), "real rows unchanged");
        }
        assertEquals(maxContext, b.maxContextLen(), "padding adds no context");
        b.unpad();
        assertEquals(3, b.numTokens());
        assertEquals(3, b.numSeqs());
        assertEquals(3, b.numLogitRows());
        assertTrue(b.isDecode());
        b.unpad();
        assertEquals(3, b.numSeqs(), "unpad without padding does nothing");
    }

    @Test
    void onlyDecodeBatchesPadAndOnlyWithinTheShape() {
        ForwardBatch prefill = new ForwardBatch(shape);
        prefill.beginSequence(new int[] {1}, 1);
        prefill.addToken(5, 0);
        prefill.addToken(6, 1);
        prefill.addLogitRow(1);
        assertFalse(prefill.isDecode(), "two tokens of one sequence");
        assertThrows(IllegalStateException.class, () -> prefill.padDecode(4));

        ForwardBatch noRows = decodeBatch(2);
        noRows.clear();
        assertFalse(noRows.isDecode(), "empty");

        ForwardBatch b = decodeBatch(3);
        assertThrows(IllegalArgumentException.class, () -> b.padDecode(2), "fewer rows than sequences");
        assertThrows(IllegalArgumentException.class, () -> b.padDecode(9), "more than maxSeqs");
        b.padDecode(4);
        b.clear();
        assertEquals(0, b.numSeqs(), "clear forgets padding");
        b.unpad();
        assertEquals(0, b.numSeqs());
    }

    @Test
    void logitRowsOutOfOrderAreNotADecodeLayout() {
        ForwardBatch b = new ForwardBatch(shape);
        for (int s = 0; s < 2; s++) {
            b.beginSequence(new int[] {s}, 1);
            b.addToken(7, 3);
        }
        b.addLogitRow(1);
        b.addLogitRow(0);
        assertFalse(b.isDecode());
    }

    /** Asynchronous scheduling's fed tokens: pairs kept in order, checked, kept through padding (real rows only), cleared. */
    @Test
    void feedsNameRealTokensAndSampleRowsAndClearWithTheBatch() {
        ForwardBatch b = decodeBatch(3);
        b.addFeed(2, 0);
        b.addFeed(0, 5);
        assertEquals(2, b.numFeeds());
        assertEquals(2, b.feedArray()[0]);
        assertEquals(0, b.feedArray()[1]);
        assertEquals(0, b.feedArray()[2]);
        assertEquals(5, b.feedArray()[3]);
        assertThrows(IllegalArgumentException.class, () -> b.addFeed(3, 0));
        assertThrows(IllegalArgumentException.class, () -> b.addFeed(1, -1));
        b.padDecode(8);
        assertEquals(2, b.numFeeds(), "padding adds no feeds");
        b.unpad();
        b.setTokenId(2, 77);
        assertEquals(77, b.tokenId(2));
        assertThrows(IllegalArgumentException.class, () -> b.setTokenId(3, 1));
        b.clear();
        assertEquals(0, b.numFeeds());
    }
}
