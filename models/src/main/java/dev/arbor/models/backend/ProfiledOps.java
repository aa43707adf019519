package dev.arbor.models.backend;

import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.OpProfile;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link Ops} that times each operation of a step with an {@link OpClock} and adds the step to an {@link OpProfile}:
 * the diagnostic behind {@code -Darbor.opProfile=true}. Every call goes to the wrapped backend unchanged; a step runs
 * from {@link #step} to the end of {@link #sample} (or to the next step, for one that samples nothing). The backend
 * must launch each operation eagerly (on CUDA: no graph replay; its backend is built without graphs for this).
 */
public final class ProfiledOps<A> implements Ops<A> {
    private final Ops<A> ops;
    private final OpClock clock;
    private final OpProfile profile;
    private final List<String> names = new ArrayList<>();
    private final Map<Matrix, String> matmulNames = new IdentityHashMap<>(), addNormNames = new IdentityHashMap<>();
    private boolean inStep, stepIsDecode;

    public ProfiledOps(Ops<A> ops, OpClock clock) {
        this.ops = ops;
        this.clock = clock;
        this.profile = new OpProfile(clock.describe());
    }

    @Override public OpProfile opProfile() { return profile; }

    private void done(String op) {
        if (!inStep) return;
        names.add(op);
        clock.mark();
    }

    /** Adds the step under way, if any, to the profile. */
    private void endStep() {
        if (!inStep) return;
        inStep = false;
        double[] ms = clock.finish();
        profile.addStep(stepIsDecode, names, ms, clock.lastStepLateOps());
        names.clear();
    }

    @Override
    public void step(ForwardBatch b, java.util.function.Consumer<ForwardBatch> launches) {
        endStep();
        ops.step(b, batch -> {
            stepIsDecode = batch.isDecode();
            inStep = true;
            clock.start();
            launches.accept(batch);
        });
    }

    @Override public A allocate(int rows, int cols) { return ops.allocate(rows, cols); }

    @Override public void upload(ForwardBatch b) { ops.upload(b); }

    @Override public double lastUploadMillis() { return ops.lastUploadMillis(); }

    @Override public double lastDeviceMillis() { return ops.lastDeviceMillis(); }

    @Override public double[] lastGapMillis() { return ops.lastGapMillis(); }

    @Override public long graphReplays() { return ops.graphReplays(); }

    @Override public long cascadeGraphReplays() { return ops.cascadeGraphReplays(); }

    @Override public boolean stepReturnsEarly() { return ops.stepReturnsEarly(); }

    @Override public void embed(Matrix table, ForwardBatch b, A out) { ops.embed(table, b, out); done("embed"); }

    @Override public void rmsNorm(A x, int rows, int n, float[] weight, double eps, A out) { ops.rmsNorm(x, rows, n, weight, eps, out); done("rmsNorm"); }

    @Override
    public void matmul(A x, int rows, Matrix w, A out) {
        ops.matmul(x, rows, w, out);
        done(matmulNames.computeIfAbsent(w, m -> "matmul " + m.rows() + "x" + m.cols()));
    }

    @Override public void rope(A x, int heads, ForwardBatch b) { ops.rope(x, heads, b); done("rope"); }

    @Override public void storeKv(int layer, A k, A v, ForwardBatch b) { ops.storeKv(layer, k, v, b); done("storeKv"); }

    @Override public void attention(int layer, A q, ForwardBatch b, A out) { ops.attention(layer, q, b, out); done("attention"); }

    @Override public void siluMul(A gate, A up, int n) { ops.siluMul(gate, up, n); done("siluMul"); }

    @Override public void add(A x, A y, int n) { ops.add(x, y, n); done("add"); }

    @Override public boolean fusedQkv() { return ops.fusedQkv(); }

    @Override public boolean fusedGateUp() { return ops.fusedGateUp(); }

    @Override
    public void qkvRopeStore(int layer, LayerWeights lw, A xn, int tokens, ForwardBatch b, ModelConfig c, A q, A k, A v) {
        ops.qkvRopeStore(layer, lw, xn, tokens, b, c, q, k, v);
        done("qkvRopeStore");
    }

    @Override
    public void gateUpSilu(A xn, int tokens, Matrix gate, Matrix up, A out, A upBuffer) {
        ops.gateUpSilu(xn, tokens, gate, up, out, upBuffer);
        done("gateUpSilu");
    }

    @Override
    public void matmulAddNorm(A in, int tokens, Matrix w, A proj, A x, float[] norm, double eps, A xn) {
        ops.matmulAddNorm(in, tokens, w, proj, x, norm, eps, xn);
        done(addNormNames.computeIfAbsent(w, m -> "matmulAddNorm " + m.rows() + "x" + m.cols()));
    }

    @Override public void gatherRows(A x, int n, ForwardBatch b, int count, A out) { ops.gatherRows(x, n, b, count, out); done("gatherRows"); }

    @Override public void copyRows(A src, int n, int srcRow, int count, A dst) { ops.copyRows(src, n, srcRow, count, dst); done("copyRows"); }

    @Override
    public void sample(A logits, SamplingBatch batch) {
        ops.sample(logits, batch);
        done("sample");
        endStep();
    }

    @Override public void readRow(A x, int row, int n, float[] dst) { ops.readRow(x, row, n, dst); }

    @Override
    public void close() {
        try (clock) {
            ops.close();
        }
    }
}
