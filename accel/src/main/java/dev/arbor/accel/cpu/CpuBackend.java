package dev.arbor.accel.cpu;

import dev.arbor.accel.*;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs kernel methods on the JVM. Work-groups run in parallel on all cores ({@link WorkTeam}). Within a group, a kernel
 * without barriers or warp operations runs its work-items one after another; otherwise each
 * work-item gets a virtual thread and the group a {@link java.util.concurrent.Phaser} as its barrier, which is
 * exactly the GPU's barrier semantics.
 *
 * <p>Every kernel is also compiled (and cached), so a kernel the GPU cannot run fails here too.
 */
public final class CpuBackend implements Backend {
    /** Target used for the validating compile; matches the H100 so the cached PTX is reusable there. */
    private static final int VALIDATION_SM = 90;
    private static final WorkTeam TEAM = WorkTeam.shared();
    private final Map<Kernel, MethodHandle> invokers = new ConcurrentHashMap<>();
    private final Map<Kernel, java.util.Optional<GroupRunner>> runners = new ConcurrentHashMap<>();
    /** Kernels without compile-time constants: one compiled form each, found without building a cache key. */
    private final Map<Kernel, CompiledKernel> plain = new ConcurrentHashMap<>();

    /**
     * One group and context per thread for kernels run sequentially (no barriers), moved from group to group: a
     * launch then allocates nothing per group (the CPU forward pass launches thousands of groups a step).
     */
    private static final class SequentialSlot {
        final WorkGroup group = new WorkGroup(new int[] {1, 1, 1}, new int[] {1, 1, 1}, new int[3], false, 0);
        final KernelContext ctx = new KernelContext(group);
        Object[] call = new Object[1];   // (context, args...) for method-handle calls, grown once per arity

        Object[] call(Object[] args) {
            if (call.length != args.length + 1) call = new Object[args.length + 1];
            call[0] = ctx;
            System.arraycopy(args, 0, call, 1, args.length);
            return call;
        }
    }

    private static final ThreadLocal<SequentialSlot> SLOTS = ThreadLocal.withInitial(SequentialSlot::new);

    /**
     * A launch of a kernel without barriers, as the team's task over chunks of consecutive groups; one per calling
     * thread, re-armed per launch, so a launch allocates nothing (a capturing lambda would be a new object each time).
     */
    private static final class SequentialLaunch implements java.util.function.IntConsumer {
        int total, chunks, sharedBytes;
        int[] block, grid;
        GroupRunner runner;
        MethodHandle invoker;
        Object[] args;

        void arm(int total, int chunks, int[] block, int[] grid, int sharedBytes, GroupRunner runner, MethodHandle invoker, Object[] args) {
            this.total = total;
            this.chunks = chunks;
            this.block = block;
            this.grid = grid;
            this.sharedBytes = sharedBytes;
            this.runner = runner;
            this.invoker = invoker;
            this.args = args;
        }

        @Override public void accept(int c) {
            SequentialSlot slot = SLOTS.get();
            slot.group.reuseFor(grid, block, sharedBytes);
            Object[] call = runner == null ? slot.call(args) : null;
            for (int g = (int) ((long) total * c / chunks), end = (int) ((long) total * (c + 1) / chunks); g < end; g++) {
                slot.group.moveTo(g);
                slot.ctx.enterGroup();
                try {
                    if (runner != null) runner.run(slot.ctx, block[0], block[1], block[2], args);
                    else runSequentially(slot.ctx, block, invoker, call);
                } catch (Throwable t) {
                    throw new GroupFailure(t);
                }
            }
            if (call != null) java.util.Arrays.fill(call, null);   // drop the references to the arguments
        }
    }

    private static final ThreadLocal<SequentialLaunch> SEQUENTIAL_LAUNCHES = ThreadLocal.withInitial(SequentialLaunch::new);

    @Override public String name() { return "cpu"; }

    @Override
    public void launch(Kernel kernel, Launch launch, Object... args) {
        kernel.checkArity(args);
        Object[] constants = kernel.constantValues(args);
        CompiledKernel compiled = constants.length == 0
                ? plain.computeIfAbsent(kernel, k -> KernelCompiler.compile(k, new Object[0], VALIDATION_SM))
                : KernelCompiler.compile(kernel, constants, VALIDATION_SM);
        MethodHandle invoker = invokers.computeIfAbsent(kernel, CpuBackend::spreadInvoker);
        GroupRunner runner = compiled.usesBarriers() ? null : runners.computeIfAbsent(kernel, CpuBackend::groupRunner).orElse(null);
        int[] grid = launch.grid(), block = launch.block();
        long groups = launch.groupCount();
        // Contiguous runs of groups per chunk, a few chunks per thread: one hand-off per chunk, not per group.
        int total = Math.toIntExact(groups), chunks = Math.min(total, 4 * TEAM.threads());
        try {
            String clusterProblem = compiled.clusterProblem(grid);
            if (clusterProblem != null) throw new IllegalArgumentException(clusterProblem);
            if (compiled.declaresCluster()) {
                // a cluster's groups run together (their work-items all at once), clusters in chunks over the team
                int[] dims = compiled.clusterShape();
                int size = dims[0] * dims[1] * dims[2], clusters = total / size, clusterChunks = Math.min(clusters, 4 * TEAM.threads());
                TEAM.run(clusterChunks, c -> {
                    for (int q = (int) ((long) clusters * c / clusterChunks), end = (int) ((long) clusters * (c + 1) / clusterChunks); q < end; q++) {
                        try {
                            runCluster(clusterGroups(grid, block, dims, q, launch.sharedBytes()), invoker, args);
                        } catch (Throwable t) {
                            throw new GroupFailure(t);
                        }
                    }
                });
            } else if (compiled.usesBarriers()) {
                TEAM.run(chunks, c -> {
                    for (int g = (int) ((long) total * c / chunks), end = (int) ((long) total * (c + 1) / chunks); g < end; g++) {
                        int[] id = {g % grid[0], (g / grid[0]) % grid[1], g / (grid[0] * grid[1])};
                        try {
                            runConcurrently(new WorkGroup(grid, block, id, true, launch.sharedBytes()), invoker, args);
                        } catch (Throwable t) {
                            throw new GroupFailure(t);
                        }
                    }
                });
            } else {
                SequentialLaunch task = SEQUENTIAL_LAUNCHES.get();
                if (task.args != null) task = new SequentialLaunch();   // nested launch on this thread: in use
                task.arm(total, chunks, block, grid, launch.sharedBytes(), runner, invoker, args);
                try {
                    TEAM.run(chunks, task);
                } finally {
                    task.args = null;
                }
            }
        } catch (GroupFailure f) {
            throw new IllegalStateException("kernel " + kernel + " failed on the CPU executor", f.getCause());
        }
    }

    /** Carries a work-item's failure (checked or not) out of the team's chunk. */
    private static final class GroupFailure extends RuntimeException {
        GroupFailure(Throwable cause) { super(cause); }
    }

    private static void runSequentially(KernelContext ctx, int[] b, MethodHandle invoker, Object[] call) throws Throwable {
        for (int z = 0; z < b[2]; z++)
            for (int y = 0; y < b[1]; y++)
                for (int x = 0; x < b[0]; x++) {
                    ctx.place(x, y, z);
                    invoker.invokeExact(call);
                }
    }

    private static void runConcurrently(WorkGroup group, MethodHandle invoker, Object[] args) throws Throwable {
        runCluster(new WorkGroup[] {group}, invoker, args);
    }

    /**
     * The groups of cluster {@code q} (clusters numbered x fastest over the grid divided by the shape), by rank, joined to
     * one {@link Cluster}.
     */
    private static WorkGroup[] clusterGroups(int[] grid, int[] block, int[] dims, int q, int sharedBytes) {
        int cx = grid[0] / dims[0], cy = grid[1] / dims[1];
        int qx = q % cx, qy = (q / cx) % cy, qz = q / (cx * cy);
        WorkGroup[] groups = new WorkGroup[dims[0] * dims[1] * dims[2]];
        for (int z = 0; z < dims[2]; z++)
            for (int y = 0; y < dims[1]; y++)
                for (int x = 0; x < dims[0]; x++) {
                    int[] id = {qx * dims[0] + x, qy * dims[1] + y, qz * dims[2] + z};
                    groups[Cluster.rank(id, dims)] = new WorkGroup(grid, block, id, true, sharedBytes);
                }
        Cluster cluster = new Cluster(dims, groups, groups.length * block[0] * block[1] * block[2]);
        for (WorkGroup g : groups) g.joinCluster(cluster);
        return groups;
    }

    /** Every work-item of {@code groups} (one group, or a cluster's) as a virtual thread at once; the first failure aborts them all. */
    private static void runCluster(WorkGroup[] groups, MethodHandle invoker, Object[] args) throws Throwable {
        int[] b = groups[0].blockSize();
        Thread[] items = new Thread[groups.length * b[0] * b[1] * b[2]];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int n = 0;
        for (WorkGroup group : groups) {
            for (int z = 0; z < b[2]; z++)
                for (int y = 0; y < b[1]; y++)
                    for (int x = 0; x < b[0]; x++) {
                        KernelContext ctx = new KernelContext(group);
                        ctx.place(x, y, z);
                        Object[] call = withContext(ctx, args);
                        items[n++] = Thread.ofVirtual().start(() -> {
                            try {
                                invoker.invokeExact(call);
                                group.finished();
                            } catch (Throwable t) {
                                if (failure.compareAndSet(null, t)) for (WorkGroup g : groups) g.abort();
                            }
                        });
                    }
        }
        for (Thread t : items) t.join();
        if (failure.get() != null) throw failure.get();
    }

    /** The generated runner, or empty (with the reason logged) when generation fails: the spread call still works. */
    private static java.util.Optional<GroupRunner> groupRunner(Kernel kernel) {
        try {
            return java.util.Optional.of(GroupRunners.generate(kernel));
        } catch (Throwable t) {
            System.getLogger(CpuBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "no generated group runner for kernel " + kernel + " (" + t + "); using method-handle calls");
            return java.util.Optional.empty();
        }
    }

    private static Object[] withContext(KernelContext ctx, Object[] args) {
        Object[] call = new Object[args.length + 1];
        call[0] = ctx;
        System.arraycopy(args, 0, call, 1, args.length);
        return call;
    }

    /** A handle of type (Object[])void calling the kernel with the array spread over its parameters. */
    private static MethodHandle spreadInvoker(Kernel kernel) {
        try {
            MethodHandle mh = MethodHandles.lookup().unreflect(kernel.method());
            int n = mh.type().parameterCount();
            return mh.asType(mh.type().generic().changeReturnType(void.class)).asSpreader(Object[].class, n);
        } catch (IllegalAccessException e) {
            throw new IllegalArgumentException("kernel " + kernel + " is not accessible", e);
        }
    }

    @Override public void toDevice(OffHeapArray... arrays) { /* host memory is the device memory */ }

    @Override public void toHost(OffHeapArray... arrays) { /* host memory is the device memory */ }

    @Override public AccelStream newStream() {
        return new AccelStream() {
            @Override public void synchronize() { }
            @Override public void close() { }
        };
    }

    @Override public void synchronize() { /* launches complete before returning */ }

    /** The CPU has no graphs: replaying runs the same launches again. */
    @Override public Recording record(AccelStream stream, Runnable body) {
        return new Recording() {
            @Override public void replay() { body.run(); }
            @Override public void close() { }
        };
    }

    @Override public void close() { }

    @Override public String toString() { return "cpu (" + Runtime.getRuntime().availableProcessors() + " cores)"; }
}
